using System.Text.Json;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Security;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Tests.Unit;

public sealed class ScriptedAgentTests
{
    private static Task<AgentDecision> Decide(string inputJson, int step, params string[] humanInputs) =>
        Decide(inputJson, step, [.. humanInputs.Select((h, i) => new HumanAnswer($"r{i}", InputKinds.Data, SignalActions.SubmitInput, h, null, null))]);

    private static Task<AgentDecision> Decide(string inputJson, int step, IReadOnlyList<HumanAnswer> answers) =>
        new ScriptedAgent(new PayloadRedactor(Options.Create(new SecurityOptions()))).DecideAsync(new AgentStepInput("run_x", inputJson, step, answers), CancellationToken.None);

    [Fact]
    public async Task ABareGoal_DraftsAsksApprovalActsAndFinishes()
    {
        const string Input = """{"goal":"Send the update"}""";
        Assert.Equal(AgentDecisionKind.Work, (await Decide(Input, 0)).Kind);
        var ask = await Decide(Input, 1);
        Assert.Equal(AgentDecisionKind.AskHuman, ask.Kind);
        Assert.Equal(InputKinds.Approval, ask.Request!.InputKind);
        Assert.Contains("Send the update", ask.Request.ProposedActionJson, StringComparison.Ordinal);
        Assert.Equal(AgentDecisionKind.Work, (await Decide(Input, 2)).Kind);
        Assert.Equal(AgentDecisionKind.Finish, (await Decide(Input, 3)).Kind);
    }

    [Fact]
    public async Task APlan_IsPlayedStepByStep_AndTheDefaultOutputCarriesHumanInputs()
    {
        const string Input = """{"goal":"g","plan":[{"type":"data","prompt":"Who?","allowed_actions":["submit_input"]},{"type":"fail","reason":"nope"}]}""";
        var ask = await Decide(Input, 0);
        Assert.Equal(InputKinds.Data, ask.Request!.InputKind);
        Assert.Equal(["submit_input"], ask.Request.AllowedActions);
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
    [InlineData("""{"goal":"g","plan":[{"type":"data","response_schema":{"type":12}}]}""", "response_schema")]
    [InlineData("""{"goal":"g","plan":[{"type":"data","response_schema":"string"}]}""", "response_schema")]
    [InlineData("""{"goal":"g","plan":[{"type":"data","allow_edits":true}]}""", "allow_edits")]
    [InlineData("""{"goal":"g","plan":[{"type":"approval","allow_edits":"yes"}]}""", "allow_edits")]
    [InlineData("""{"goal":"g","plan":[{"type":"approval","timeout_seconds":0}]}""", "timeout_seconds")]
    [InlineData("""{"goal":"g","plan":[{"type":"approval","timeout_seconds":3601}]}""", "timeout_seconds")]
    [InlineData("""{"goal":"g","plan":[{"type":"approval","reminders":[0]}]}""", "reminder")]
    [InlineData("""{"goal":"g","plan":[{"type":"approval","reminders":60}]}""", "reminders")]
    [InlineData("""{"goal":"g","plan":[{"type":"approval","reminders":[1,2,3,4,5,6,7,8,9,10,11]}]}""", "reminders")]
    public void AnInvalidPlan_IsRefusedWithAMessageNamingTheField(string input, string mentioned)
    {
        using var doc = JsonDocument.Parse(input);
        Assert.False(ScriptedPlan.TryParse(doc.RootElement, 3600, out _, out var error));
        Assert.Contains(mentioned, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARequestsTypedFields_ReachTheDecision_AndAnApprovedEditIsInTheOutput()
    {
        const string Input = """
            {"goal":"g","plan":[{"type":"approval","action":{"tool":"send","arguments":{"to":"a"}},"allow_edits":true,
             "response_schema":{"type":"object","required":["to"]},"timeout_seconds":120,"reminders":[30,90]}]}
            """;
        var ask = await Decide(Input, 0);
        Assert.True(ask.Request!.AllowEdits);
        Assert.Equal(120, ask.Request.TimeoutSeconds);
        Assert.Equal([90, 30], ask.Request.Reminders);
        Assert.Contains("\"required\"", ask.Request.ResponseSchemaJson, StringComparison.Ordinal);

        var approved = new HumanAnswer("r0", InputKinds.Approval, SignalActions.Approve, """{"arguments":{"to":"b"}}""", """{"tool":"send","arguments":{"to":"b"}}""", null);
        var done = await Decide(Input, 1, [approved]);
        using var output = JsonDocument.Parse(done.OutputJson!);
        Assert.Equal("b", output.RootElement.GetProperty("approved_actions")[0].GetProperty("arguments").GetProperty("to").GetString());
    }
}
