using System.Text;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Streaming;
using AgentRuns.Functions.Tests.Support;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>The live event stream, through the HTTP function and against the real log.</summary>
public sealed class StreamTests
{
    private const string Approval = """{"type":"approval","prompt":"Send it?"}""";
    private const string Work = """{"type":"work","tool":"draft","summary":"drafted"}""";

    [Fact]
    public async Task Stream_OfAFinishedRun_DeliversEveryEventOnceInOrder_ThenEnds()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Work, Work));
        var log = await api.WaitForEndAsync(runId);

        var response = await api.GetAsync($"/v1/runs/{runId}/events/stream");
        Assert.Equal(200, response.Status);
        Assert.Equal("text/event-stream", response.ContentType);
        Assert.Equal("no-cache, no-transform", response.Headers.CacheControl.ToString());
        var frames = SseFrames.Parse(response.Body);
        Assert.Equal(log.Count, frames.Count);
        for (var i = 0; i < frames.Count; i++)
        {
            Assert.Equal("run_event", frames[i].EventType);
            Assert.Equal((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), frames[i].Id);
            Assert.Equal(i + 1, frames[i].Data.GetProperty("seq").GetInt64());
            Assert.Equal(Type(log[i]), Type(frames[i].Data));
        }
    }

    [Fact]
    public async Task Stream_StartsAfterLastEventId_OrAfterSeq()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Work, Work, Work));
        var log = await api.WaitForEndAsync(runId);

        var resumed = SseFrames.Parse((await api.GetAsync($"/v1/runs/{runId}/events/stream", new Dictionary<string, string> { ["Last-Event-ID"] = "3" })).Body);
        Assert.Equal(Enumerable.Range(4, log.Count - 3).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), resumed.Select(f => f.Id));

        var fromQuery = SseFrames.Parse((await api.GetAsync($"/v1/runs/{runId}/events/stream?after_seq=5")).Body);
        Assert.Equal(6, fromQuery[0].Data.GetProperty("seq").GetInt64());
        Assert.Equal(log.Count - 5, fromQuery.Count);
    }

    [Fact]
    public async Task Stream_ResumedAfterTheTerminalEvent_EndsAtOnceWithNoFrames()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Work));
        var log = await api.WaitForEndAsync(runId);
        await api.WaitForStatusAsync(runId, "succeeded");

        var response = await api.GetAsync($"/v1/runs/{runId}/events/stream", new Dictionary<string, string> { ["Last-Event-ID"] = log.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            .WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(200, response.Status);
        Assert.Empty(SseFrames.Parse(response.Body));
    }

    [Fact]
    public async Task Stream_OfAnUnknownRun_Is404BeforeAnyStreamStarts()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var response = await api.GetAsync("/v1/runs/run_00000000000000000000000000/events/stream");
        Assert.Equal(404, response.Status);
        Assert.Equal("run_not_found", response.ReasonCode);
        Assert.Equal("application/problem+json", response.ContentType);

        var badId = await api.GetAsync($"/v1/runs/{(await api.CreateRunAsync(Plan(Work)))}/events/stream", new Dictionary<string, string> { ["Last-Event-ID"] = "abc" });
        Assert.Equal(400, badId.Status);
    }

    [Fact]
    public async Task Stream_FollowsALiveRun_ThroughItsWait_UntilTheTerminalEvent()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Work, Approval, Work));
        var streaming = api.GetAsync($"/v1/runs/{runId}/events/stream");

        await api.WaitForStatusAsync(runId, "awaiting_input");
        Assert.False(streaming.IsCompleted, "the stream ended while the run was waiting");
        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);

        var response = await streaming.WaitAsync(TimeSpan.FromSeconds(30));
        var frames = SseFrames.Parse(response.Body);
        var log = await api.WaitForEndAsync(runId);
        Assert.Equal(log.Select(e => e.GetProperty("seq").GetInt64()), frames.Select(f => f.Data.GetProperty("seq").GetInt64()));
        Assert.Equal("run.worker.succeeded", Type(frames[^1].Data));
    }

    [Fact]
    public async Task AnIdleStream_SendsHeartbeats_EndsAtItsBound_AndResumesWithoutLossOrDuplicates()
    {
        var host = await RunsTestHost.GetAsync();
        var api = host.Api;
        var runId = await api.CreateRunAsync(Plan(Approval, Work));
        await api.WaitForStatusAsync(runId, "awaiting_input");
        var stream = new RunEventStream(
            host.Runs,
            host.Services.GetRequiredService<RunEventNotifier>(),
            Options.Create(new StreamOptions { MaxDurationSeconds = 2, HeartbeatSeconds = 1, MinPollMilliseconds = 50, MaxPollMilliseconds = 200 }),
            TimeProvider.System,
            NullLogger<RunEventStream>.Instance);

        var first = await StreamOnceAsync(stream, api.TenantId, runId, 0);
        Assert.Contains(": keep-alive", first, StringComparison.Ordinal);
        var firstFrames = SseFrames.Parse(first);
        Assert.Equal("run.awaiting_input", Type(firstFrames[^1].Data));

        Assert.Equal(202, (await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        var lastSeen = long.Parse(firstFrames[^1].Id!, System.Globalization.CultureInfo.InvariantCulture);
        var second = SseFrames.Parse(await StreamOnceAsync(stream, api.TenantId, runId, lastSeen));

        var all = firstFrames.Concat(second).Select(f => f.Data.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(1, all.Count).Select(i => (long)i), all);
        Assert.Equal("run.worker.succeeded", Type(second[^1].Data));
    }

    private static async Task<string> StreamOnceAsync(RunEventStream stream, string tenantId, string runId, long afterSeq)
    {
        var context = new DefaultHttpContext();
        var body = new MemoryStream();
        context.Response.Body = body;
        await stream.WriteAsync(context.Response, tenantId, runId, afterSeq, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
        return Encoding.UTF8.GetString(body.ToArray());
    }
}
