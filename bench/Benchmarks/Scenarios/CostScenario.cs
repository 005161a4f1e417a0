using AgentRuns.Benchmarks.Infra;

namespace AgentRuns.Benchmarks.Scenarios;

/// <summary>
/// Storage requests the app makes, counted in the host by a pipeline policy on every storage client (the runs tables and
/// the Durable backend's queues, tables and blobs): an idle host with no runs, then the guide's approve flow run after
/// run with the idle baseline subtracted. The idle-stream figure comes from the 40 s idle windows of the signal scenario.
/// </summary>
public static class CostScenario
{
    public const string Method =
        "A policy on every storage client of the host counts each HTTP request (retries included): the app's tables " +
        "(`RunTables`, `TableClientOptions` from DI) and the Durable Task Framework's queues, tables and blobs " +
        "(`StorageAccountClientProvider` with client options). Idle host: a fresh host, warmed up, no runs in flight, counted " +
        "over the baseline window. Per run: the guide's approve flow (create with an Idempotency-Key, follow the stream, " +
        "approve on `run.awaiting_input`, until `run.worker.succeeded`), runs one after another, plus 5 s for the last " +
        "orchestration to finish; the idle baseline for the same time is subtracted and the rest divided by the runs. " +
        "Idle stream: the 40 s idle windows of the signal scenario (batches of runs waiting for input, each with its stream " +
        "open), minus the idle baseline, per stream-minute; its Durable part is what the waiting runs themselves cost.";

    public static async Task RunAsync(BenchContext context)
    {
        var plan = context.Plan;
        context.Log("cost: starting a host");
        await using var host = await context.StartHostAsync("cost");
        await Task.Delay(TimeSpan.FromSeconds(3));

        context.Log($"cost: idle host for {plan.BaselineSeconds} s");
        await host.ReadStorageRequestsAsync(reset: true);
        await Task.Delay(TimeSpan.FromSeconds(plan.BaselineSeconds));
        var baseline = await host.ReadStorageRequestsAsync(reset: true);
        context.IdleBaseline = baseline;

        context.Log($"cost: {plan.CostRuns} approve flows, one after another");
        for (var i = 0; i < plan.CostRuns; i++)
        {
            await Flows.GuideFlowAsync(host);
        }

        await Task.Delay(TimeSpan.FromSeconds(5));
        var flows = await host.ReadStorageRequestsAsync(reset: true);
        var perRun = flows.Minus(baseline).Per(plan.CostRuns);
        var perMinute = baseline.Per(baseline.Seconds / 60);

        context.Results.Cost = new CostResults(
            Method,
            Math.Round(baseline.Seconds, 1),
            StorageSummary.Of(perMinute),
            plan.CostRuns,
            StorageSummary.Of(perRun),
            0,
            null,
            Top(perMinute),
            Top(perRun),
            null);
        context.Log($"cost: idle host {perMinute.Total:F0}/min, approve flow {perRun.Total:F1}/run");
    }

    /// <summary>Adds the idle-stream cost measured in the signal scenario's idle windows.</summary>
    public static void AddIdleStreams(BenchContext context, StorageCounts windows, double streamMinutes)
    {
        if (context.Results.Cost is not { } cost || context.IdleBaseline is not { } baseline || streamMinutes <= 0)
        {
            return;
        }

        var perStreamMinute = windows.Minus(baseline).Per(streamMinutes);
        context.Results.Cost = cost with
        {
            IdleStreamMinutes = Math.Round(streamMinutes, 1),
            PerIdleStreamMinute = StorageSummary.Of(perStreamMinute),
            IdleStreamTop = Top(perStreamMinute),
        };
    }

    /// <summary>The kinds of request with the highest counts (or total time), count per the window's unit.</summary>
    public static List<RequestLine> Top(StorageCounts counts, int take = 12, bool byTime = false) =>
    [
        .. counts.Requests
            .Where(r => Math.Abs(r.Value) >= 0.05)
            .OrderByDescending(r => byTime ? counts.Milliseconds.GetValueOrDefault(r.Key) : r.Value)
            .Take(take)
            .Select(r => new RequestLine(
                r.Key.Source,
                r.Key.Service,
                r.Key.Method,
                r.Key.Resource,
                Math.Round(r.Value, 2),
                r.Value >= 0.5 ? Math.Round(counts.Milliseconds.GetValueOrDefault(r.Key) / r.Value, 2) : null)),
    ];
}
