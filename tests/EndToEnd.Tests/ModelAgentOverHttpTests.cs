using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentRuns.EndToEnd.Tests.Support;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>
/// The model agent over real HTTP on both sides: the local host (a child process, configured through ModelAgent__* environment
/// variables, as a developer would point it at a model on their machine) calls an OpenAI-compatible chat-completions server in the
/// test process through the real OpenAI SDK and HTTP resilience handler.
/// </summary>
public sealed partial class ModelAgentOverHttpTests(ModelAgentOverHttpTests.ModelHostFixture fixture) : IClassFixture<ModelAgentOverHttpTests.ModelHostFixture>
{
    [Fact]
    public async Task AModelRun_DraftsAsksApprovalWithTheToolCall_SendsTheEditedEmail_AndEndsWithTheModelsAnswer()
    {
        var http = fixture.Host.Http;
        var goal = "Draft and send the weekly team update email. " + Guid.NewGuid().ToString("N");
        var runId = await http.CreateRunAsync(JsonSerializer.Serialize(new { input = new { goal }, agent = "model" }));

        var waiting = (await http.WaitForStatusAsync(runId, "awaiting_input")).Json.GetProperty("pending_input");
        var proposed = waiting.GetProperty("proposed_action");
        Assert.Equal(("send_email", "call_send"), (proposed.GetProperty("tool").GetString(), proposed.GetProperty("tool_call_id").GetString()));
        Assert.True(waiting.GetProperty("allow_edits").GetBoolean());
        var approve = await http.SendAsync(
            HttpMethod.Post, $"/v1/runs/{runId}/signal",
            """{"action":"approve","payload":{"arguments":{"to":"team@example.com","subject":"Weekly team update (edited)","body":"Short and sweet."}}}""");
        Assert.Equal(HttpStatusCode.Accepted, approve.Status);

        var run = (await http.WaitForStatusAsync(runId, "succeeded")).Json;
        Assert.Equal(ChatCompletionsServer.FinalAnswer, run.GetProperty("output").GetProperty("answer").GetString());
        var events = await http.EventsAsync(runId);
        var tools = events.Where(e => e.GetProperty("type").GetString() == "run.worker.progress")
            .Select(e => e.GetProperty("payload").GetProperty("value").GetProperty("tool").GetString()).ToList();
        Assert.Equal(["model", "draft_email", "model", "send_email", "model"], tools);

        // What the model server saw: one 503 then three turns, each a chat-completions call with the key, the model and the tools.
        var requests = fixture.Server.For(goal);
        Assert.Equal(4, requests.Count);
        Assert.All(requests, r =>
        {
            Assert.Equal(("/v1/chat/completions", "Bearer sk-e2e"), (r.Path, r.Authorization));
            Assert.Equal("e2e-model", r.Json.GetProperty("model").GetString());
            var offered = r.Json.GetProperty("tools").EnumerateArray().Select(t => t.GetProperty("function").GetProperty("name").GetString()).ToList();
            Assert.Contains("ask_human", offered);
            Assert.Contains("send_email", offered);
        });
        Assert.Equal(requests[0].Body, requests[1].Body); // the retry after the 503 asked the same
        var sent = requests[^1].ToolResults.Single(r => r.ToolCallId == "call_send").Content;
        Assert.Contains("Weekly team update (edited)", sent, StringComparison.Ordinal);
        Assert.Contains("queued", sent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheGuidesTypeScriptExample_AgainstTheModelAgent_AnsweringYes()
    {
        var run = await GuideClient.RunAsync(fixture.Host, "yes");

        var transcript = $"{run.Output}\n--- stderr ---\n{run.Errors}\n--- host ---\n{fixture.Host.Output}";
        Assert.True(run.ExitCode == 0, transcript);
        var runId = RunCreated().Match(run.Output).Groups["id"].Value;
        Assert.False(string.IsNullOrEmpty(runId), transcript);
        Assert.Contains("[run.awaiting_input] seq=", run.Output, StringComparison.Ordinal);
        Assert.Contains("Signal sent: approve", run.Output, StringComparison.Ordinal);
        Assert.Contains("Run ended: run.worker.succeeded", run.Output, StringComparison.Ordinal);
        var printed = SeqLine().Matches(run.Output).Select(m => long.Parse(m.Groups["seq"].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(Enumerable.Range(1, printed.Count).Select(i => (long)i), printed);

        var stored = (await fixture.Host.Http.WaitForStatusAsync(runId, "succeeded")).Json;
        Assert.Equal("model", stored.GetProperty("agent").GetString());
        Assert.Equal(ChatCompletionsServer.FinalAnswer, stored.GetProperty("output").GetProperty("answer").GetString());
        Assert.Equal(printed.Count, (await fixture.Host.Http.EventsAsync(runId)).Count);
        Assert.Contains(fixture.Server.Received, r => r.Goal == "Draft and send the weekly team update email."
            && r.ToolResults.Any(t => t.ToolCallId == "call_send" && t.Content.Contains("queued", StringComparison.Ordinal)));
    }

    [GeneratedRegex(@"Run created: (?<id>run_[0-9a-z]{26})")]
    private static partial Regex RunCreated();

    [GeneratedRegex(@"\[run\.[a-z_.]+\] seq=(?<seq>\d+)$", RegexOptions.Multiline)]
    private static partial Regex SeqLine();

    /// <summary>The chat-completions server, and a local host whose default agent is the model agent, pointed at it.</summary>
    public sealed class ModelHostFixture : IAsyncLifetime
    {
        public ChatCompletionsServer Server { get; private set; } = null!;

        public LocalHostProcess Host { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Server = await ChatCompletionsServer.StartAsync();
            Host = await LocalHostProcess.StartAsync(LocalHostSettings.Fresh() with
            {
                Settings = new Dictionary<string, string>
                {
                    ["Agents__Default"] = "model",
                    ["ModelAgent__Endpoint"] = Server.Endpoint,
                    ["ModelAgent__Model"] = "e2e-model",
                    ["ModelAgent__ApiKey"] = "sk-e2e",
                    ["ModelAgent__RetryDelayMilliseconds"] = "100",
                },
            });
        }

        public async Task DisposeAsync()
        {
            await Host.DisposeAsync();
            await Server.DisposeAsync();
        }
    }
}
