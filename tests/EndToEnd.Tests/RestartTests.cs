using System.Net;
using System.Text.Json;
using AgentRuns.EndToEnd.Tests.Support;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>Runs live in the Durable Task Framework's Azure Storage backend, not in the host process.</summary>
public sealed class RestartTests
{
    private const string ApprovalPlan = """{"input":{"goal":"g","plan":[{"type":"approval"}]}}""";

    [Fact]
    public async Task AwaitingRun_SurvivesAHostKill_AndSucceedsAfterRestart()
    {
        var settings = LocalHostSettings.Fresh();
        string runId;
        await using (var first = await LocalHostProcess.StartAsync(settings))
        {
            runId = await first.Http.CreateRunAsync(ApprovalPlan);
            await first.Http.WaitForStatusAsync(runId, "awaiting_input");

            // The record says awaiting_input a moment before the orchestration has checkpointed its wait: kill after it.
            await DurableHistory.WaitUntilWaitingAsync(settings.HubName, runId);
            await first.KillAsync();
        }

        await using var second = await LocalHostProcess.StartAsync(settings);
        var signal = await second.Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""");
        Assert.True(signal.Status == HttpStatusCode.Accepted, $"signal: {signal}");

        await second.Http.WaitForStatusAsync(runId, "succeeded");

        // The run record is projected before the events are appended: the terminal event may trail the status briefly.
        var events = await Eventually.GetAsync(
            () => second.Http.EventsAsync(runId), e => e.Count > 0 && IsTerminal(e[^1]), TimeSpan.FromSeconds(30), $"the end of {runId}'s log");
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal("run.created", events[0].GetProperty("type").GetString());
        Assert.Equal("run.worker.succeeded", events[^1].GetProperty("type").GetString());
        Assert.Single(events, IsTerminal);
    }

    private static bool IsTerminal(JsonElement e) =>
        e.GetProperty("type").GetString() is "run.worker.succeeded" or "run.worker.failed" or "run.cancelled";
}
