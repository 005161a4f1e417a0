using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AgentRuns.EndToEnd.Tests.Support;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>
/// Faults, over real HTTP against the local host: storage that goes away for 20 s, the app's tables alone that go away for
/// longer than a step's retries (both with an HTTP worker's step in progress), and a host killed with runs in every state.
/// Afterwards every run ends, with a contiguous log, and every accepted answer is applied.
/// </summary>
public sealed class FaultTests
{
    private const string Approval = """{"input":{"goal":"g","plan":[{"type":"approval"},{"type":"work"}]}}""";
    private const string LongWork = """{"input":{"goal":"g","plan":[{"type":"work","duration_seconds":4},{"type":"work"}]}}""";
    private const string QuickWork = """{"input":{"goal":"g","plan":[{"type":"work"},{"type":"work"}]}}""";

    /// <summary>The repairer looks often and soon, so a test sees it act within seconds.</summary>
    private static readonly Dictionary<string, string> FastRepair = new()
    {
        ["Repair__IntervalSeconds"] = "2",
        ["Repair__StartGraceSeconds"] = "5",
        ["Repair__SignalGraceSeconds"] = "5",
        ["Repair__ExpiryGraceSeconds"] = "5",
    };

    /// <remarks>
    /// An HTTP worker's first step is held until storage has stopped: its answer arrives when the step cannot store it, so the
    /// step fails for want of storage. The worker must be asked again for the same step, with the same idempotency key, once
    /// storage is back. Here the Durable engine's storage goes too, so the step's retries themselves wait for storage: this holds
    /// even without the step's outage wait (b305d01); the test below, where only the tables go, is the one that needs it.
    /// </remarks>
    [Fact]
    public async Task StorageDownFor20Seconds_Is503WithRetryAfter_AndAfterwardsEveryRunEnds_WithEveryAnswerApplied()
    {
        await using var storage = await AzuriteProcess.StartNewAsync();
        await using var workers = await FakeWorkers.StartAsync();
        var settings = LocalHostSettings.Fresh() with { StorageConnectionString = storage.ConnectionString, Settings = FastRepair };
        await using var host = await LocalHostProcess.StartAsync(settings);
        var http = host.Http;

        var storageDown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var worker = await RegisterWorkerAsync(http, workers, async (_, n, aborted) =>
        {
            if (n == 0)
            {
                await storageDown.Task.WaitAsync(aborted); // answered only once storage is gone
            }

            return (200, """{"type":"finish","output":{"through_the_outage":true}}""");
        });

        var waiting = await CreateAsync(http, Approval, 3);
        var answered = await CreateAsync(http, Approval, 2);
        var working = await CreateAsync(http, LongWork, 2);
        var workerRun = await http.CreateRunAsync($$"""{"input":{"goal":"g"},"agent":"worker:{{worker}}"}""");
        foreach (var runId in waiting.Concat(answered))
        {
            await http.WaitForStatusAsync(runId, "awaiting_input");
        }

        var streams = waiting.Concat(answered).Concat(working).Append(workerRun)
            .ToDictionary(id => id, id => ResumingStream.FollowAsync(NewClient(host), id, TimeSpan.FromMinutes(4)));
        foreach (var runId in answered)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        }

        await Eventually.GetAsync(
            () => Task.FromResult(workers.ReceivedAt(worker)), c => c.Count > 0, TimeSpan.FromSeconds(30), $"the worker's first step of {workerRun}");
        await storage.StopAsync();
        var stoppedAt = DateTimeOffset.UtcNow;
        storageDown.SetResult();
        var outage = Stopwatch.StartNew();
        var probes = 0;
        while (outage.Elapsed < TimeSpan.FromSeconds(20))
        {
            foreach (var (method, path, body) in new (HttpMethod, string, string?)[]
            {
                (HttpMethod.Post, "/v1/runs", Approval),
                (HttpMethod.Get, $"/v1/runs/{waiting[0]}", null),
                (HttpMethod.Get, $"/v1/runs/{waiting[0]}/events", null),
                (HttpMethod.Post, $"/v1/runs/{waiting[0]}/signal", """{"action":"approve"}"""),
                (HttpMethod.Post, $"/v1/runs/{waiting[1]}/cancel", null),
                (HttpMethod.Get, "/health/ready", null),
            })
            {
                var timer = Stopwatch.StartNew();
                using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
                if (body is not null)
                {
                    request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
                }

                using var response = await http.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                Assert.True(timer.Elapsed < TimeSpan.FromSeconds(30), $"{method} {path} took {timer.Elapsed}");
                Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{method} {path} during the outage: {(int)response.StatusCode} {text}");
                Assert.Equal("storage_unavailable", JsonDocument.Parse(text).RootElement.GetProperty("reason_code").GetString());
                Assert.True(response.Headers.RetryAfter is not null, $"{method} {path}: no Retry-After");
                probes++;
            }

            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(HttpMethod.Get, "/health")).Status);
        }

        await storage.StartAsync();
        var restartedAt = DateTimeOffset.UtcNow;

        // Back: every waiting run is answered (a client retries its 503s), and every run ends.
        foreach (var runId in waiting)
        {
            await Eventually.GetAsync(
                () => http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}"""),
                r => r.Status == HttpStatusCode.Accepted, TimeSpan.FromSeconds(60), $"a signal to {runId} after the outage");
        }

        foreach (var runId in waiting.Concat(answered).Concat(working))
        {
            var events = await WaitForEndAsync(http, runId, TimeSpan.FromSeconds(120));
            Assert.Equal("run.worker.succeeded", Type(events[^1]));
            if (!working.Contains(runId))
            {
                Assert.Single(events, e => Type(e) == "run.signal_received");
            }

            var streamed = await streams[runId];
            Assert.Equal(events.Select(e => e.GetProperty("seq").GetInt64()), streamed.Events.Select(e => e.GetProperty("seq").GetInt64()));
        }

        Assert.True(probes >= 6, $"only {probes} probes during the outage");

        // The worker's step, caught by the outage, was asked again once storage was back: the same step, the same key.
        var workerEvents = await WaitForEndAsync(http, workerRun, TimeSpan.FromSeconds(120));
        Assert.True(Type(workerEvents[^1]) == "run.worker.succeeded", $"{workerRun} ended {workerEvents[^1]}");
        Assert.True((await http.SendAsync(HttpMethod.Get, $"/v1/runs/{workerRun}")).Json.GetProperty("output").GetProperty("through_the_outage").GetBoolean());
        Assert.Equal(workerEvents.Select(e => e.GetProperty("seq").GetInt64()), (await streams[workerRun]).Events.Select(e => e.GetProperty("seq").GetInt64()));
        AssertAskedAgainWithTheSameKey(workers.ReceivedAt(worker), workerRun, stoppedAt, restartedAt);
    }

    /// <remarks>
    /// The app's tables on an Azurite of the test's own, the Durable engine on the shared one: only the tables go away, so the
    /// engine goes on retrying the worker's step (5 attempts, about 15 s) while the step can neither store the worker's answer
    /// nor read anything. In the outage above the engine stops too and retries only once storage is back; here the step spends
    /// its retries within the outage, and the run must wait the rest out instead of ending with <c>agent_error</c>.
    /// </remarks>
    [Fact]
    public async Task TheTablesDown_WhileTheEngineRuns_AWorkerStepSpendsItsRetries_AndTheRunWaitsItOut_AskingTheWorkerAgainWithTheSameKey()
    {
        await using var tables = await AzuriteProcess.StartNewAsync();
        await using var workers = await FakeWorkers.StartAsync();
        var settings = LocalHostSettings.Fresh() with { Settings = new Dictionary<string, string> { ["RunStorage__ConnectionString"] = tables.ConnectionString } };
        await using var host = await LocalHostProcess.StartAsync(settings);
        var http = host.Http;

        var tablesDown = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var worker = await RegisterWorkerAsync(http, workers, async (_, n, aborted) =>
        {
            if (n == 0)
            {
                await tablesDown.Task.WaitAsync(aborted); // answered only once the tables are gone
            }

            return (200, """{"type":"finish","output":{"through_the_outage":true}}""");
        });
        var runId = await http.CreateRunAsync($$"""{"input":{"goal":"g"},"agent":"worker:{{worker}}"}""");
        var stream = ResumingStream.FollowAsync(NewClient(host), runId, TimeSpan.FromMinutes(4));
        await Eventually.GetAsync(
            () => Task.FromResult(workers.ReceivedAt(worker)), c => c.Count > 0, TimeSpan.FromSeconds(30), $"the worker's first step of {runId}");

        await tables.StopAsync();
        var stoppedAt = DateTimeOffset.UtcNow;
        tablesDown.SetResult();

        // The step's five attempts have all failed (the Durable history is on the shared Azurite, which stays up).
        await DurableHistory.WaitForFailedTasksAsync(settings.HubName, runId, 5, TimeSpan.FromSeconds(90));
        await tables.StartAsync();
        var restartedAt = DateTimeOffset.UtcNow;

        var events = await WaitForEndAsync(http, runId, TimeSpan.FromSeconds(120));
        Assert.True(Type(events[^1]) == "run.worker.succeeded", $"{runId} ended {events[^1]}");
        Assert.True((await http.SendAsync(HttpMethod.Get, $"/v1/runs/{runId}")).Json.GetProperty("output").GetProperty("through_the_outage").GetBoolean());
        Assert.Equal(events.Select(e => e.GetProperty("seq").GetInt64()), (await stream).Events.Select(e => e.GetProperty("seq").GetInt64()));
        AssertAskedAgainWithTheSameKey(workers.ReceivedAt(worker), runId, stoppedAt, restartedAt);
    }

    [Fact]
    public async Task AHostKilledWithRunsInEveryState_EndsEveryRunCorrectly_WithinTwoMinutesOfItsRestart()
    {
        var settings = LocalHostSettings.Fresh() with { Settings = FastRepair };
        List<string> waiting, signalled, working, queued;
        await using (var first = await LocalHostProcess.StartAsync(settings))
        {
            var http = first.Http;
            waiting = await CreateAsync(http, Approval, 2);
            signalled = await CreateAsync(http, Approval, 2);
            working = await CreateAsync(http, LongWork, 2);
            foreach (var runId in waiting.Concat(signalled))
            {
                await http.WaitForStatusAsync(runId, "awaiting_input");
            }

            foreach (var runId in working)
            {
                await Eventually.GetAsync(() => http.EventsAsync(runId), e => e.Any(x => Type(x) == "run.worker.progress"), TimeSpan.FromSeconds(30), $"{runId} at work");
            }

            foreach (var runId in signalled)
            {
                Assert.Equal(HttpStatusCode.Accepted, (await http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
            }

            queued = await CreateAsync(http, QuickWork, 3);
            await first.KillAsync();
        }

        await using var second = await LocalHostProcess.StartAsync(settings);
        var deadline = Stopwatch.StartNew();
        foreach (var runId in waiting)
        {
            await Eventually.GetAsync(
                () => second.Http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}"""),
                r => r.Status == HttpStatusCode.Accepted, TimeSpan.FromSeconds(60), $"a signal to {runId} after the restart");
        }

        foreach (var runId in waiting.Concat(signalled).Concat(working).Concat(queued))
        {
            var left = TimeSpan.FromMinutes(2) - deadline.Elapsed;
            var events = await WaitForEndAsync(second.Http, runId, left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1));
            Assert.Equal("run.worker.succeeded", Type(events[^1]));
            Assert.Equal(waiting.Contains(runId) || signalled.Contains(runId) ? 1 : 0, events.Count(e => Type(e) == "run.signal_received"));
            Assert.Equal(1, events.Count(e => Type(e) == "run.started"));
        }
    }

    private static HttpClient NewClient(LocalHostProcess host) => host.CreateClient(Timeout.InfiniteTimeSpan);

    /// <summary>
    /// The worker got step 0 once before storage stopped (held: the attempt did not time out) and again after it was back, every
    /// call with the step's one idempotency key (<c>webhook-id</c>).
    /// </summary>
    private static void AssertAskedAgainWithTheSameKey(IReadOnlyList<ReceivedStep> calls, string runId, DateTimeOffset stoppedAt, DateTimeOffset restartedAt)
    {
        var before = calls.Count(c => c.At < stoppedAt);
        Assert.True(before == 1, $"{before} calls before storage stopped: the held one timed out?");
        Assert.Contains(calls, c => c.At > restartedAt);
        Assert.All(calls, c => Assert.Equal(0, c.StepIndex));
        Assert.Equal(new[] { $"step_{runId["run_".Length..]}_0" }, calls.Select(c => c.Id).Distinct());
    }

    /// <summary>Registers a worker in the test process (the local host allows loopback URLs), behaving as given; its name is its path.</summary>
    private static async Task<string> RegisterWorkerAsync(HttpClient http, FakeWorkers workers, WorkerBehaviour behaviour)
    {
        var name = "fake-" + Guid.NewGuid().ToString("N")[..10];
        var created = await http.SendAsync(HttpMethod.Post, "/v1/workers", $$"""{"name":"{{name}}","url":"{{workers.Url(name)}}"}""");
        Assert.True(created.Status == HttpStatusCode.Created, created.ToString());
        workers.Behave(name, created.Json.GetProperty("secret").GetString()!, behaviour);
        return name;
    }

    private static async Task<List<string>> CreateAsync(HttpClient http, string body, int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            ids.Add(await http.CreateRunAsync(body));
        }

        return ids;
    }

    /// <summary>Waits for the terminal event, and checks the log: seq 1, 2, 3… with no gap or duplicate, nothing after the end.</summary>
    internal static async Task<List<JsonElement>> WaitForEndAsync(HttpClient http, string runId, TimeSpan timeout)
    {
        var events = await Eventually.GetAsync(
            () => http.EventsAsync(runId), e => e.Count > 0 && IsTerminal(Type(e[^1])), timeout, $"the end of {runId}");
        Assert.Equal(Enumerable.Range(1, events.Count).Select(i => (long)i), events.Select(e => e.GetProperty("seq").GetInt64()));
        Assert.Equal("run.created", Type(events[0]));
        Assert.Single(events, e => IsTerminal(Type(e)));
        return events;
    }

    private static string Type(JsonElement e) => e.GetProperty("type").GetString()!;

    private static bool IsTerminal(string type) => type is "run.worker.succeeded" or "run.worker.failed" or "run.cancelled";
}
