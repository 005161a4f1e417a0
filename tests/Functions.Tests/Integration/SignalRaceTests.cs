using AgentRuns.Functions.Tests.Support;
using static AgentRuns.Functions.Tests.Support.RunAssertions;

namespace AgentRuns.Functions.Tests.Integration;

/// <summary>Exactly one answer wins: concurrent signals, and signals racing the deadline.</summary>
public sealed class SignalRaceTests
{
    private const string Approval = """{"type":"approval","prompt":"Send it?"}""";

    [Fact]
    public async Task TwentyConcurrentSignals_OneIsAccepted_NineteenGet409_OneEventIsRecorded()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        var runId = await api.CreateRunAsync(Plan(Approval));
        await api.WaitForStatusAsync(runId, "awaiting_input");

        using var start = new ManualResetEventSlim(false);
        var signals = Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
        {
            start.Wait();
            return await api.PostAsync($"/v1/runs/{runId}/signal", i % 2 == 0 ? """{"action":"approve"}""" : """{"action":"reject"}""");
        })).ToList();
        start.Set();
        var responses = await Task.WhenAll(signals);

        Assert.Single(responses, r => r.Status == 202);
        Assert.Equal(19, responses.Count(r => r.Status == 409 && r.ReasonCode == "run_not_awaiting_input"));
        var events = await api.WaitForEndAsync(runId);
        Assert.Single(events, e => Type(e) == "run.signal_received");
        var winner = responses.Single(r => r.Status == 202).Json.GetProperty("action").GetString();
        Assert.Equal(winner, Value(events.Single(e => Type(e) == "run.signal_received")).GetProperty("action").GetString());
    }

    [Fact]
    public async Task ASignalRacingTheDeadline_EitherWinsOrGets409_NeverBoth()
    {
        var api = (await RunsTestHost.GetAsync()).Api;
        // Signals from 1.5 s before to 0.5 s after the deadline: the clock decides, so early ones must win and late ones lose.
        const int Trials = 30;
        var random = new Random(42);
        var offsets = Enumerable.Range(0, Trials).Select(_ => TimeSpan.FromMilliseconds(random.Next(-1500, 500))).ToList();

        var outcomes = await Task.WhenAll(offsets.Select(async offset =>
        {
            var runId = await api.CreateRunAsync(PlanWithTimeout(3, Approval));
            var awaiting = Value(await api.WaitForEventAsync(runId, "run.awaiting_input"));
            var expiresAt = DateTimeOffset.Parse(awaiting.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            var delay = expiresAt + offset - DateTimeOffset.UtcNow;
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay);
            }

            var sentAt = DateTimeOffset.UtcNow;
            var signal = await api.PostAsync($"/v1/runs/{runId}/signal", """{"action":"approve"}""");
            var events = await api.WaitForEndAsync(runId, TimeSpan.FromSeconds(30));
            return (runId, signal, events, sentAt, expiresAt);
        }));

        foreach (var (runId, signal, events, sentAt, expiresAt) in outcomes)
        {
            if (sentAt >= expiresAt)
            {
                Assert.True(signal.Status == 409, $"{runId}: a signal sent after expires_at was accepted");
            }

            var types = Types(events);
            var timedOut = events.Any(e => Type(e) == "run.cancelled" && Value(e).GetProperty("reason_code").GetString() == "signal_timeout");
            if (signal.Status == 202)
            {
                var acceptedAt = DateTimeOffset.Parse(signal.Json.GetProperty("accepted_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
                Assert.True(acceptedAt < expiresAt, $"{runId}: accepted at {acceptedAt:O}, after its deadline {expiresAt:O}");
                Assert.False(timedOut, $"{runId}: signal accepted and timed out");
                Assert.Contains("run.signal_received", types);
                Assert.Equal("run.worker.succeeded", types[^1]);
            }
            else
            {
                Assert.Equal(409, signal.Status);
                Assert.True(timedOut, $"{runId}: signal refused but the run did not time out");
                Assert.DoesNotContain("run.signal_received", types);
            }
        }

        // The trials must actually race: both outcomes occur.
        Assert.Contains(outcomes, o => o.signal.Status == 202);
        Assert.Contains(outcomes, o => o.signal.Status == 409);
    }
}
