using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AgentRuns.EndToEnd.Tests.Support;

namespace AgentRuns.EndToEnd.Tests;

/// <summary>
/// Faults, over real HTTP against the local host: storage that goes away for 20 s, and a host killed with runs in every
/// state. Afterwards every run ends, with a contiguous log, and every accepted answer is applied.
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

    [Fact]
    public async Task StorageDownFor20Seconds_Is503WithRetryAfter_AndAfterwardsEveryRunEnds_WithEveryAnswerApplied()
    {
        await using var storage = await AzuriteProcess.StartNewAsync();
        var settings = LocalHostSettings.Fresh() with { StorageConnectionString = storage.ConnectionString, Settings = FastRepair };
        await using var host = await LocalHostProcess.StartAsync(settings);
        var http = host.Http;

        var waiting = await CreateAsync(http, Approval, 3);
        var answered = await CreateAsync(http, Approval, 2);
        var working = await CreateAsync(http, LongWork, 2);
        foreach (var runId in waiting.Concat(answered))
        {
            await http.WaitForStatusAsync(runId, "awaiting_input");
        }

        var streams = waiting.Concat(answered).Concat(working)
            .ToDictionary(id => id, id => ResumingStream.FollowAsync(NewClient(host), id, TimeSpan.FromMinutes(4)));
        foreach (var runId in answered)
        {
            Assert.Equal(HttpStatusCode.Accepted, (await http.SendAsync(HttpMethod.Post, $"/v1/runs/{runId}/signal", """{"action":"approve"}""")).Status);
        }

        await storage.StopAsync();
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
