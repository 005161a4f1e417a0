using System.Globalization;
using AgentRuns.Benchmarks.Infra;
using AgentRuns.Functions.Storage;
using Azure.Data.Tables;

namespace AgentRuns.Benchmarks.Scenarios;

/// <summary>
/// Storage requests the app makes, counted in the host by a pipeline policy on every storage client (the runs tables and
/// the Durable backend's queues, tables and blobs): an idle host with no runs, then the guide's approve flow run after
/// run with the idle baseline subtracted. The idle-stream figure comes from the 40 s idle windows of the signal scenario.
/// Then the repairer when nothing is wrong: idle windows with many ended runs and with many runs waiting for input, and
/// what one look at a due run costs.
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

    public const string RepairMethod =
        "The same host, after the approve flows. The repairer runs a pass every `Repair:IntervalSeconds` (set explicitly for " +
        "every benchmark host; in Azure the `RepairRuns` timer runs once a minute); a pass is one query of the open-runs index " +
        "(table OpenRuns, counted as `{prefix}Open`, `Open` below) for rows whose CheckAt is due, then, per due run, a record " +
        "read (Runs), the orchestration's status (Durable `Instances`) and an index update. Idle windows, nothing else running " +
        "(no streams open, no client requests), each counted in full and shown per minute, nothing subtracted: (1) the idle " +
        "baseline above (only the warm-up runs, all ended); (2) after {finished} more runs that end without a human (plan: one " +
        "`work` step), created {concurrency} at a time, each followed on its stream until `run.worker.succeeded` (so at most " +
        "{concurrency} in flight), then 10 s to settle; (3) after {waiting} runs that wait for input (one approval step, " +
        "`signal_timeout_seconds` 86400), created {concurrency} at a time without streams, once the repairer has looked at " +
        "each of them once. A create of those runs answered 409 `idempotency_key_in_use` or 503 `storage_unavailable` is sent " +
        "again with the same key after `Retry-After`, as a careful client does, and counted below; a stream answered 503 is opened " +
        "again after `Retry-After` (at most 10 s), one reset mid-response resumed with `Last-Event-ID`, as SSE clients do; a run that " +
        "took over 60 s to end, or whose stream was opened again, is logged. The app's table requests in an idle window are the repairer's: nothing else of the app touches " +
        "storage while idle (the by-request lines of each window show what was sent). Before each window the benchmark reads, " +
        "with its own uncounted client, the tenant's run records by state and the index rows with their CheckAt, and reports " +
        "how many rows came due before the window ended. One look: from the moment all {waiting} runs wait for input until " +
        "every one of their index rows shows a first look (Checks ≥ 1), minus the idle baseline for that time, divided by the " +
        "looks in that window; the next look is the row's CheckAt minus its write time (median), so the waiting runs cost " +
        "that many looks per minute on average.";

    /// <summary>A run that ends without a human: one work step, then it finishes.</summary>
    public const string EndingRun = """{"input":{"goal":"g","plan":[{"type":"work"}]}}""";

    /// <summary>A run that waits for input for a day.</summary>
    public const string LongWaitingRun = """{"input":{"goal":"g","plan":[{"type":"approval","prompt":"ok?"},{"type":"finish"}]},"signal_timeout_seconds":86400}""";

    private const int Concurrency = 8;

    public static string RepairMethodFor(Plan plan) => RepairMethod
        .Replace("{finished}", plan.RepairFinishedRuns.ToString("N0", CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{waiting}", plan.RepairWaitingRuns.ToString("N0", CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("{concurrency}", Concurrency.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    public static async Task RunAsync(BenchContext context)
    {
        var plan = context.Plan;
        context.Log("cost: starting a host");
        await using var host = await context.StartHostAsync("cost");
        await Task.Delay(TimeSpan.FromSeconds(3));

        context.Log($"cost: idle host for {plan.BaselineSeconds} s");
        var (idle, baseline) = await IdleWindowAsync(host, "no unfinished runs", plan.BaselineSeconds);
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
        var app = AppTables.Of(perRun);

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
            null,
            app,
            Top(perRun.Where(k => k is { Source: "app", Service: "tables" }), take: 50),
            new RepairerResults(RepairMethodFor(plan), HostSettings.RepairIntervalSeconds, [idle], null, []));
        context.Log(
            $"cost: idle host {perMinute.Total:F0}/min, approve flow {perRun.Total:F1}/run, app tables {app.Total:F1}/run " +
            $"(Runs {app.Runs:F1}, OpenRuns {app.OpenRuns:F1}, Idempotency {app.Idempotency:F1}, ApiKeys {app.ApiKeys:F1})");
        context.Log($"cost: repairer, idle, no unfinished runs: {idle.AppPerMinute.Total:F1} app table requests/min");

        await RepairerAsync(context, host, baseline);
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

    /// <summary>The repairer's idle cost with many ended runs, with many waiting runs, and what one look at a due run costs.</summary>
    private static async Task RepairerAsync(BenchContext context, HostProcess host, StorageCounts baseline)
    {
        var plan = context.Plan;
        context.Log($"cost: {plan.RepairFinishedRuns} runs that end without a human, {Concurrency} at a time");
        var ended = 0;
        using (var gate = new SemaphoreSlim(Concurrency))
        {
            await Task.WhenAll(Enumerable.Range(0, plan.RepairFinishedRuns).Select(async _ =>
            {
                await gate.WaitAsync();
                try
                {
                    var runId = await CreateAsync(context, host, EndingRun);
                    var started = Clock.Now;
                    await using var stream = await RunStream.OpenAsync(host.Http, runId, TimeSpan.FromMinutes(15));
                    var end = await stream.WaitForEndAsync(TimeSpan.FromMinutes(10));
                    if (end.Type != "run.worker.succeeded")
                    {
                        throw new InvalidOperationException($"Run {runId} ended with {end.Type}.");
                    }

                    var took = Clock.MsSince(started) / 1000;
                    if (took > 60 || stream.Retries.Count > 0)
                    {
                        // The emulator stalls now and then under this load: say which runs it held up, and for how long.
                        context.Log($"cost: {runId} ended after {took:0} s" + (stream.Retries.Count > 0 ? $", its stream opened again after: {string.Join(", ", stream.Retries)}" : ""));
                    }

                    if (Interlocked.Increment(ref ended) % 100 == 0)
                    {
                        context.Log($"cost: {ended} ended");
                    }
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        await Task.Delay(TimeSpan.FromSeconds(10));
        context.Log($"cost: idle host with {plan.RepairFinishedRuns} more ended runs for {plan.BaselineSeconds} s");
        var (endedWindow, _) = await IdleWindowAsync(host, $"{plan.RepairFinishedRuns:N0} more runs ended", plan.BaselineSeconds);
        SetRepairer(context, r => r with { Windows = [.. r.Windows, endedWindow] });
        context.Log(
            $"cost: repairer, idle, {endedWindow.EndedRuns} ended runs, {endedWindow.IndexRows} index rows: " +
            $"{endedWindow.AppPerMinute.Total:F1} app table requests/min");

        context.Log($"cost: {plan.RepairWaitingRuns} runs that wait for input for a day, {Concurrency} at a time");
        var waitingIds = new List<string>();
        using (var gate = new SemaphoreSlim(Concurrency))
        {
            waitingIds.AddRange(await Task.WhenAll(Enumerable.Range(0, plan.RepairWaitingRuns).Select(async _ =>
            {
                await gate.WaitAsync();
                try
                {
                    return await CreateAsync(context, host, LongWaitingRun);
                }
                finally
                {
                    gate.Release();
                }
            })));
        }

        await UntilAsync(
            async () => (await StatesAsync(host)).GetValueOrDefault("awaiting_input"), waitingIds.Count, TimeSpan.FromMinutes(5),
            seen => context.Log($"cost: {seen} of {waitingIds.Count} await input"));
        var keys = waitingIds.Select(id => OpenRunIndex.RowKeyFor(host.Settings.Tenant, id)).ToHashSet(StringComparer.Ordinal);
        var lookedBefore = (await IndexRowsAsync(host)).Count(r => keys.Contains(r.RowKey) && r.Checks >= 1);
        context.Log($"cost: all {waitingIds.Count} wait for input ({lookedBefore} already looked at); until the repairer has looked at each");
        await host.ReadStorageRequestsAsync(reset: true);
        await UntilAsync(
            async () => (await IndexRowsAsync(host)).Count(r => keys.Contains(r.RowKey) && r.Checks >= 1), waitingIds.Count, TimeSpan.FromMinutes(5),
            seen => context.Log($"cost: {seen} of {waitingIds.Count} looked at"));
        var lookCounts = await host.ReadStorageRequestsAsync(reset: true);
        var rowsAfter = (await IndexRowsAsync(host)).Where(r => keys.Contains(r.RowKey)).ToList();
        var looks = waitingIds.Count - lookedBefore;
        if (looks > 0)
        {
            var perLook = lookCounts.Minus(baseline).Per(looks);
            var next = Median(rowsAfter.Select(r => (r.CheckAt - r.Written).TotalSeconds));
            var look = new RepairLook(
                looks,
                lookedBefore,
                Math.Round(lookCounts.Seconds, 1),
                AppTables.Of(perLook),
                StorageSummary.Of(perLook),
                Top(perLook, take: 8),
                Math.Round(next, 0),
                Math.Round(perLook.Total * waitingIds.Count / (next / 60), 1));
            SetRepairer(context, r => r with { Look = look });
            context.Log(
                $"cost: one look {look.PerLook.Total:F1} requests (app tables {look.AppPerLook.Total:F1}), next look after {next:F0} s: " +
                $"{waitingIds.Count} waiting runs cost {look.PerMinuteForAll:F1}/min on average");
        }

        context.Log($"cost: idle host with {waitingIds.Count} runs waiting for input for {plan.BaselineSeconds} s");
        var (waitingWindow, _) = await IdleWindowAsync(host, $"{plan.RepairWaitingRuns:N0} runs waiting for input, each looked at once", plan.BaselineSeconds);
        SetRepairer(context, r => r with { Windows = [.. r.Windows, waitingWindow] });
        context.Log(
            $"cost: repairer, idle, {waitingWindow.WaitingRuns} waiting runs, {waitingWindow.IndexRows} index rows ({waitingWindow.IndexRowsDue} due): " +
            $"{waitingWindow.AppPerMinute.Total:F1} app table requests/min");
    }

    /// <summary>
    /// Counts an idle window of <paramref name="seconds"/>; before it, reads (uncounted) the tenant's run records by state and
    /// the index rows, to say what the host held and how many rows came due before the window ended.
    /// </summary>
    private static async Task<(IdleWindow Window, StorageCounts Counts)> IdleWindowAsync(HostProcess host, string label, int seconds)
    {
        var states = await StatesAsync(host);
        var rows = await IndexRowsAsync(host);
        await host.ReadStorageRequestsAsync(reset: true);
        var started = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        var counts = await host.ReadStorageRequestsAsync(reset: true);
        var ends = started.AddSeconds(counts.Seconds);
        var perMinute = counts.Per(counts.Seconds / 60);
        var appOnly = perMinute.Where(k => k is { Source: "app", Service: "tables" });
        var endedRuns = states.Where(s => s.Key is "succeeded" or "failed" or "cancelled").Sum(s => s.Value);
        var waiting = states.GetValueOrDefault("awaiting_input");
        var window = new IdleWindow(
            label,
            endedRuns,
            waiting,
            states.Values.Sum() - endedRuns - waiting,
            rows.Count,
            rows.Count(r => r.CheckAt <= ends),
            Math.Round(counts.Seconds, 1),
            (int)Math.Round(counts.Requests.Where(r => r.Key is { Source: "app", Service: "tables", Method: "GET", Resource: "Open" }).Sum(r => r.Value)),
            AppTables.Of(perMinute),
            StorageSummary.Of(perMinute),
            Top(appOnly, take: 20));
        return (window, counts);
    }

    private static void SetRepairer(BenchContext context, Func<RepairerResults, RepairerResults> change)
    {
        lock (context)
        {
            if (context.Results.Cost is { Repairer: { } repairer } cost)
            {
                context.Results.Cost = cost with { Repairer = change(repairer) };
            }
        }
    }

    /// <summary>Creates a run, sending it again with the same key when the API says so (counted in the results, and logged).</summary>
    private static async Task<string> CreateAsync(BenchContext context, HostProcess host, string body)
    {
        var (runId, retried) = await host.Http.CreateRunRetryingAsync(body);
        if (retried.Count > 0)
        {
            context.Log($"cost: create of {runId} sent again after: {string.Join(", ", retried)}");
            SetRepairer(context, r =>
            {
                foreach (var answer in retried)
                {
                    r.CreateRetries[answer] = r.CreateRetries.GetValueOrDefault(answer) + 1;
                }

                return r;
            });
        }

        return runId;
    }

    /// <summary>The tenant's run records by status (the benchmark's own reads, not counted).</summary>
    private static async Task<Dictionary<string, int>> StatesAsync(HostProcess host)
    {
        var runs = host.Tables.GetTableClient(host.Settings.RunsTable);
        var tenant = host.Settings.Tenant;
        var first = RunRows.RecordPrefix;
        var end = RunRows.RecordPrefix + RunRows.End;
        var states = new Dictionary<string, int>(StringComparer.Ordinal);
        await foreach (var e in runs.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey eq {tenant} and RowKey ge {first} and RowKey lt {end}"), select: ["Status"]))
        {
            var status = e.GetString("Status") ?? "?";
            states[status] = states.GetValueOrDefault(status) + 1;
        }

        return states;
    }

    /// <summary>The rows of the open-runs index (the benchmark's own reads, not counted).</summary>
    private static async Task<List<IndexRow>> IndexRowsAsync(HostProcess host)
    {
        var index = host.Tables.GetTableClient(host.Settings.OpenRunsTable);
        var rows = new List<IndexRow>();
        await foreach (var e in index.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey eq {OpenRunIndex.Partition}"), select: ["RowKey", "CheckAt", "Checks", "Timestamp"]))
        {
            rows.Add(new IndexRow(
                e.RowKey, e.GetDateTimeOffset("CheckAt") ?? DateTimeOffset.MinValue, e.GetInt32("Checks") ?? 0, e.Timestamp ?? DateTimeOffset.MinValue));
        }

        return rows;
    }

    /// <summary>Polls (every 500 ms) until the count reaches the target (progress every 20 s), or fails after the timeout.</summary>
    private static async Task UntilAsync(Func<Task<int>> count, int target, TimeSpan timeout, Action<int> progress)
    {
        var deadline = BenchContext.After(Clock.Now, timeout);
        var report = BenchContext.After(Clock.Now, TimeSpan.FromSeconds(20));
        int seen;
        while ((seen = await count()) < target)
        {
            if (Clock.Now > deadline)
            {
                throw new TimeoutException($"Only {seen} of {target} got there within {timeout}.");
            }

            if (Clock.Now > report)
            {
                progress(seen);
                report = BenchContext.After(Clock.Now, TimeSpan.FromSeconds(20));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[sorted.Count / 2];
    }

    private sealed record IndexRow(string RowKey, DateTimeOffset CheckAt, int Checks, DateTimeOffset Written);
}
