using System.Text.Json;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Security;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Tests.Unit;

public sealed class ScriptedAgentTests
{
    private static Task<AgentDecision> Decide(string inputJson, int step, params string[] humanInputs) =>
        new ScriptedAgent(new PayloadRedactor(Options.Create(new SecurityOptions()))).DecideAsync(new AgentStepInput("run_x", inputJson, step, humanInputs), CancellationToken.None);

    [Fact]
    public async Task ABareGoal_DraftsAsksApprovalActsAndFinishes()
    {
        const string Input = """{"goal":"Send the update"}""";
        Assert.Equal(AgentDecisionKind.Work, (await Decide(Input, 0)).Kind);
        var ask = await Decide(Input, 1);
        Assert.Equal(AgentDecisionKind.AskHuman, ask.Kind);
        Assert.Equal(InputKinds.Approval, ask.InputKind);
        Assert.Contains("Send the update", ask.ProposedActionJson, StringComparison.Ordinal);
        Assert.Equal(AgentDecisionKind.Work, (await Decide(Input, 2)).Kind);
        Assert.Equal(AgentDecisionKind.Finish, (await Decide(Input, 3)).Kind);
    }

    [Fact]
    public async Task APlan_IsPlayedStepByStep_AndTheDefaultOutputCarriesHumanInputs()
    {
        const string Input = """{"goal":"g","plan":[{"type":"data","prompt":"Who?","allowed_actions":["submit_input"]},{"type":"fail","reason":"nope"}]}""";
        var ask = await Decide(Input, 0);
        Assert.Equal(InputKinds.Data, ask.InputKind);
        Assert.Equal(["submit_input"], ask.AllowedActions);
        var fail = await Decide(Input, 1);
        Assert.Equal(AgentDecisionKind.Fail, fail.Kind);
        Assert.Equal(RunReasonCodes.AgentFailed, fail.ReasonCode);

        var done = await Decide("""{"goal":"g","plan":[{"type":"work"}]}""", 1, """{"to":"x"}""");
        Assert.Equal(AgentDecisionKind.Finish, done.Kind);
        using var output = JsonDocument.Parse(done.OutputJson!);
        Assert.Equal("x", output.RootElement.GetProperty("human_inputs")[0].GetProperty("to").GetString());
    }

    [Theory]
    [InlineData("""{"plan":[]}""", "goal")]
    [InlineData("""{"goal":" "}""", "goal")]
    [InlineData("""{"goal":"g","plan":[]}""", "plan")]
    [InlineData("""{"goal":"g","plan":[1]}""", "plan[0]")]
    [InlineData("""{"goal":"g","plan":[{"type":"work","duration_seconds":-1}]}""", "duration_seconds")]
    [InlineData("""{"goal":"g","plan":[{"type":"approval","action":"send"}]}""", "action")]
    [InlineData("""{"goal":"g","plan":[{"type":"fail","reason":5}]}""", "reason")]
    public void AnInvalidPlan_IsRefusedWithAMessageNamingTheField(string input, string mentioned)
    {
        using var doc = JsonDocument.Parse(input);
        Assert.False(ScriptedPlan.TryParse(doc.RootElement, out _, out var error));
        Assert.Contains(mentioned, error, StringComparison.Ordinal);
    }
}
