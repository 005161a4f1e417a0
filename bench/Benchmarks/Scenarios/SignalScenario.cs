using AgentRuns.Benchmarks.Infra;
using AgentRuns.Functions.Orchestrations;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.DependencyInjection;

namespace AgentRuns.Benchmarks.Scenarios;

/// <summary>
/// Signal → resume: from sending the signal until <c>run.signal_received</c> arrives on the run's open stream. A batch of
/// runs waits for input, the host is left idle for the given time, then the whole batch is signalled at once; repeated
/// until every case has its samples. Each run asks for approval once per round (a plan of approval steps), so one batch
/// serves all rounds of a case and its streams stay open throughout, as a client's would. The same with a bare
/// <c>DurableTaskClient.RaiseEventAsync</c> to the same kind of orchestrations shows the API's share.
/// </summary>
public static class SignalScenario
{
    /// <summary>Signals of a round are sent on this schedule (open loop), so each meets a host busy with a few others at most.</summary>
    public static readonly TimeSpan Spacing = TimeSpan.FromMilliseconds(250);

    public const string Method =
        "A fresh host (and emulator) per idle time. A batch of runs is created whose plan is one approval step per round " +
        "(then finish), each followed by its SSE stream from creation on. A round: every run of the batch waits in " +
        "`awaiting_input`; the host is left idle for 0, 5 or 40 s after the last `run.awaiting_input` arrived (nothing " +
        "runs but the streams' table polls, backing off to 2 s, and the Durable backend's queue polls, backing off to " +
        "1 s), so every run has been waiting at least that long; then the runs are approved one every 250 ms, on that " +
        "schedule whatever happened to the earlier signals (open loop, 4 signals/s: a light load the host keeps up with). " +
        "Latency: from just before the signal is sent until `run.signal_received` arrives on that run's stream (the " +
        "orchestration got the event, recorded it, and the stream delivered it). The runs then ask for the next " +
        "approval; once all have asked, the next round's idle time starts. `first of round`: the first signal after the " +
        "idle time, the one that meets the backed-off host. `raise_event`: a batch of its own, signalled by the benchmark " +
        "with `DurableTaskClient.RaiseEventAsync` on the host's gRPC sidecar (the call `POST /signal` makes after its " +
        "checks, with the same event), its rounds alternating with the idle-0 `api` rounds. `one at a time`: a single run " +
        "on the idle-0 host before its batches, approvals alternating api and raise_event (ABBA), each 200 ms after " +
        "`run.awaiting_input`, nothing else running.";

    public static async Task RunAsync(BenchContext context)
    {
        var plan = context.Plan;
        var cases = new List<SignalCase>();
        SequentialComparison? sequential = null;
        StorageCounts? idleWindows = null;
        double idleStreamMinutes = 0;

        foreach (var signal in plan.Signal)
        {
            var withRaise = signal.IdleSeconds == 0;
            context.Log($"signal: idle {signal.IdleSeconds} s: starting a host");
            await using var host = await context.StartHostAsync($"signal-idle{signal.IdleSeconds}");
            await using var services = BenchContext.DurableClientFor(host);
            var durable = services.GetRequiredService<DurableTaskClient>();
            if (withRaise && plan.SequentialPairs > 0 && sequential is null)
            {
                context.Log($"signal: one at a time, {plan.SequentialPairs} api + {plan.SequentialPairs} raise_event");
                sequential = await SequentialAsync(host, durable, plan.SequentialPairs);
            }

            context.Log($"signal: idle {signal.IdleSeconds} s: {signal.Batch} runs × {signal.Rounds} rounds{(withRaise ? ", api and raise_event" : "")}");
            var api = await Batch.CreateAsync(host, signal.Batch, signal.Rounds);
            var raise = withRaise ? await Batch.CreateAsync(host, signal.Batch, signal.Rounds) : null;
            try
            {
                var apiRounds = new List<Round>();
                var raiseRounds = new List<Round>();
                for (var round = 0; round < signal.Rounds; round++)
                {
                    var a = await api.RoundAsync(host, durable, signal.IdleSeconds, bare: false, last: round == signal.Rounds - 1);
                    apiRounds.Add(a);
                    if (a.IdleWindow is not null && signal.IdleSeconds >= 30)
                    {
                        idleWindows = idleWindows is null ? a.IdleWindow : idleWindows.Plus(a.IdleWindow);
                        idleStreamMinutes += signal.Batch * a.IdleWindow.Seconds / 60;
                    }

                    if (raise is not null)
                    {
                        raiseRounds.Add(await raise.RoundAsync(host, durable, signal.IdleSeconds, bare: true, last: round == signal.Rounds - 1));
                    }

                    context.Log($"signal: idle {signal.IdleSeconds} s: round {round + 1}/{signal.Rounds}: api p50 {Latency.Of(a.Resume).P50:F0} ms" +
                        (raise is null ? "" : $", raise_event p50 {Latency.Of(raiseRounds[^1].Resume).P50:F0} ms"));
                }

                cases.Add(Case("api", signal, apiRounds));
                if (raise is not null)
                {
                    cases.Add(Case("raise_event", signal, raiseRounds));
                }
            }
            finally
            {
                await api.DisposeAsync();
                if (raise is not null)
                {
                    await raise.DisposeAsync();
                }
            }
        }

        var zeroApi = cases.FirstOrDefault(c => c.Path == "api" && c.IdleSeconds == 0);
        var zeroRaise = cases.FirstOrDefault(c => c.Path == "raise_event" && c.IdleSeconds == 0);
        context.Results.Signal = new SignalResults(
            Method, cases, zeroApi is null || zeroRaise is null ? null : Ratio.Of(zeroApi.Resume, zeroRaise.Resume), sequential);
        if (idleWindows is not null)
        {
            CostScenario.AddIdleStreams(context, idleWindows, idleStreamMinutes);
        }
    }

    private static SignalCase Case(string path, SignalPlan plan, List<Round> rounds) => new(
        path,
        plan.IdleSeconds,
        plan.Batch,
        rounds.Count,
        Latency.Of(rounds.SelectMany(r => r.Resume)),
        Latency.Of(rounds.Select(r => r.Resume[0])),
        Latency.Of(rounds.SelectMany(r => r.Call)));

    private static async Task<(double Resume, double Call)> SignalAsync(
        HostProcess host, DurableTaskClient durable, RunStream stream, StreamEvent awaiting, bool bare)
    {
        var sent = Clock.Now;
        if (bare)
        {
            await durable.RaiseEventAsync(stream.RunId, RunEventNames.Signal, new SignalEvent(awaiting.RequestId!, "approve", null, DateTimeOffset.UtcNow));
        }
        else
        {
            await host.Http.SignalAsync(stream.RunId);
        }

        var call = Clock.MsSince(sent);
        var received = await stream.WaitForAsync(e => e.Type == "run.signal_received" && e.Seq > awaiting.Seq, Api.EventTimeout);
        return (Clock.Ms(sent, received.ReceivedAt), call);
    }

    /// <summary>One run at a time: a single run with many approvals, api and raise_event alternating (ABBA).</summary>
    private static async Task<SequentialComparison> SequentialAsync(HostProcess host, DurableTaskClient durable, int pairs)
    {
        var (runId, _) = await host.Http.CreateRunAsync(Api.ApprovalsRun(pairs * 2));
        await using var stream = await RunStream.OpenAsync(host.Http, runId, TimeSpan.FromMinutes(10));
        var api = new List<double>();
        var raise = new List<double>();
        long after = 0;
        for (var i = 0; i < pairs * 2; i++)
        {
            var awaiting = await stream.WaitForAsync(e => e.Type == "run.awaiting_input" && e.Seq > after, Api.EventTimeout);
            await Task.Delay(200);
            var bare = i % 4 is 1 or 2;
            var (resume, _) = await SignalAsync(host, durable, stream, awaiting, bare);
            (bare ? raise : api).Add(resume);
            after = awaiting.Seq;
        }

        await stream.WaitForEndAsync(Api.EventTimeout);
        var a = Latency.Of(api);
        var r = Latency.Of(raise);
        return new SequentialComparison(pairs, a, r, Ratio.Of(a, r));
    }

    private sealed record Round(List<double> Resume, List<double> Call, StorageCounts? IdleWindow);

    /// <summary>Runs that ask for approval once per round, each with its stream open.</summary>
    private sealed class Batch : IAsyncDisposable
    {
        private readonly List<RunStream> _streams;
        private readonly StreamEvent[] _awaiting;

        private Batch(List<RunStream> streams, StreamEvent[] awaiting)
        {
            _streams = streams;
            _awaiting = awaiting;
        }

        public static async Task<Batch> CreateAsync(HostProcess host, int size, int rounds)
        {
            var runs = await Flows.CreateWaitingManyAsync(host, size, concurrency: 8, Api.ApprovalsRun(rounds));
            return new Batch([.. runs.Select(r => r.Stream)], [.. runs.Select(r => r.Awaiting)]);
        }

        /// <summary>Idle, then signal the runs on the <see cref="Spacing"/> schedule; returns when every run asks again (or, after the last round, has ended).</summary>
        public async Task<Round> RoundAsync(HostProcess host, DurableTaskClient durable, int idle, bool bare, bool last)
        {
            StorageCounts? window = null;
            if (idle > 0)
            {
                // Idle from the last run.awaiting_input on: every run waits, nothing else is in flight.
                var quietSince = _awaiting.Max(a => a.ReceivedAt);
                await host.ReadStorageRequestsAsync(reset: true);
                await BenchContext.SleepUntilAsync(BenchContext.After(quietSince, TimeSpan.FromSeconds(idle)));
                window = await host.ReadStorageRequestsAsync(reset: true);
            }

            var start = Clock.Now;
            var samples = await Task.WhenAll(_streams.Select(async (stream, i) =>
            {
                await BenchContext.SleepUntilAsync(BenchContext.After(start, Spacing * i));
                var sample = await SignalAsync(host, durable, stream, _awaiting[i], bare);
                var asked = _awaiting[i].Seq;
                _awaiting[i] = await stream.WaitForAsync(
                    e => e.Seq > asked && (last ? e.IsTerminal : e.Type == "run.awaiting_input"), Api.EventTimeout);
                return sample;
            }));
            return new Round([.. samples.Select(s => s.Resume)], [.. samples.Select(s => s.Call)], window);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var stream in _streams)
            {
                await stream.DisposeAsync();
            }
        }
    }
}
