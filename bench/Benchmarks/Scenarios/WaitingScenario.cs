using AgentRuns.Benchmarks.Infra;
using Azure.Data.Tables;

namespace AgentRuns.Benchmarks.Scenarios;

/// <summary>
/// Create latency (back-to-back creates), then many runs waiting for input at once: the host's memory while they wait,
/// and the time to resume them all.
/// </summary>
public static class WaitingScenario
{
    public const string CreateMethod =
        "`POST /v1/runs` with the guide's body and an Idempotency-Key, one after another on a fresh warm host, each " +
        "measured from send to the 201 response; every created run starts its orchestration, so the host works on earlier " +
        "runs while later ones are created (they become the first of the waiting runs below). Create latency under 1/8/32 " +
        "clients is in the throughput table.";

    public const string WaitingMethod =
        "The back-to-back creates above, then the rest {concurrency} at a time, all with the guide's body, no streams " +
        "open; the benchmark counts the tenant's `awaiting_input` rows in the Runs table (its own reads, not the host's). " +
        "Memory: RSS (VmRSS in /proc/<pid>/status) and the GC heap (GC.GetGCMemoryInfo in the host, through its " +
        "local-host-only diagnostics route), before the runs (idle, warm) and while they all wait, each as is and right " +
        "after a forced full GC (`collected`: live memory). Resume all: every run approved, {signals} signals in flight at " +
        "a time, from the first signal until the Runs table shows every run succeeded.";

    private const int CreateConcurrency = 8;
    private const int SignalConcurrency = 32;

    public static async Task RunAsync(BenchContext context)
    {
        var plan = context.Plan;
        context.Log("waiting: starting a host");
        await using var host = await context.StartHostAsync("waiting");
        var runs = host.Tables.GetTableClient(host.Settings.RunsTable);
        await Task.Delay(TimeSpan.FromSeconds(3));
        var idle = await host.ReadMemoryAsync(collect: false);
        var idleCollected = await host.ReadMemoryAsync(collect: true);
        var warmRuns = await CountAsync(runs, host.Settings.Tenant, "succeeded");

        context.Log($"waiting: {plan.CreateSamples} creates back to back");
        var ids = new List<string>();
        var createStarted = Clock.Now;
        var createMs = new List<double>();
        for (var i = 0; i < plan.CreateSamples; i++)
        {
            var (runId, ms) = await host.Http.CreateRunAsync();
            ids.Add(runId);
            createMs.Add(ms);
        }

        context.Results.Create = new CreateResults(CreateMethod, Latency.Of(createMs));
        context.Log($"waiting: create p50 {context.Results.Create.Sequential.P50:F1} ms, p95 {context.Results.Create.Sequential.P95:F1} ms");

        context.Log($"waiting: {plan.WaitingRuns - plan.CreateSamples} more creates, {CreateConcurrency} at a time");
        using (var gate = new SemaphoreSlim(CreateConcurrency))
        {
            var more = await Task.WhenAll(Enumerable.Range(0, Math.Max(0, plan.WaitingRuns - plan.CreateSamples)).Select(async _ =>
            {
                await gate.WaitAsync();
                try
                {
                    return (await host.Http.CreateRunAsync()).RunId;
                }
                finally
                {
                    gate.Release();
                }
            }));
            ids.AddRange(more);
        }

        var createSeconds = Clock.MsSince(createStarted) / 1000;
        context.Log($"waiting: {ids.Count} runs created in {createSeconds:F0} s; waiting for all to await input");
        await UntilAsync(() => CountAsync(runs, host.Settings.Tenant, "awaiting_input"), ids.Count, TimeSpan.FromMinutes(10), TimeSpan.FromMilliseconds(500));
        var allWaitingSeconds = Clock.MsSince(createStarted) / 1000;

        await Task.Delay(TimeSpan.FromSeconds(5));
        var waiting = await host.ReadMemoryAsync(collect: false);
        var waitingCollected = await host.ReadMemoryAsync(collect: true);
        context.Log($"waiting: {ids.Count} waiting: RSS {waiting.RssBytes / 1048576.0:F0} MiB, live heap {waitingCollected.GcHeapBytes / 1048576.0:F1} MiB");

        context.Log($"waiting: approving all, {SignalConcurrency} at a time");
        await host.ReadStorageRequestsAsync(reset: true);
        var signalStarted = Clock.Now;
        var signalMs = new List<double>();
        using (var gate = new SemaphoreSlim(SignalConcurrency))
        {
            await Task.WhenAll(ids.Select(async id =>
            {
                await gate.WaitAsync();
                try
                {
                    var sent = Clock.Now;
                    await host.Http.SignalAsync(id);
                    var ms = Clock.MsSince(sent);
                    lock (signalMs)
                    {
                        signalMs.Add(ms);
                    }
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        var signalSeconds = Clock.MsSince(signalStarted) / 1000;
        await UntilAsync(async () => await CountAsync(runs, host.Settings.Tenant, "succeeded") - warmRuns, ids.Count, TimeSpan.FromMinutes(10), TimeSpan.FromMilliseconds(200));
        var resumeSeconds = Clock.MsSince(signalStarted) / 1000;
        var storage = await host.ReadStorageRequestsAsync(reset: true);
        var after = await host.ReadMemoryAsync(collect: false);

        context.Results.Waiting = new WaitingResult(
            ids.Count,
            Math.Round(createSeconds, 1),
            Math.Round(allWaitingSeconds, 1),
            idle,
            idleCollected,
            waiting,
            waitingCollected,
            Math.Round((double)(waiting.RssBytes - idle.RssBytes) / ids.Count),
            Math.Round((double)(waitingCollected.GcHeapBytes - idleCollected.GcHeapBytes) / ids.Count),
            Math.Round(signalSeconds, 1),
            Math.Round(resumeSeconds, 1),
            Latency.Of(signalMs),
            after,
            Math.Round(storage.Total / storage.Seconds, 1),
            CostScenario.Top(storage.Per(ids.Count), take: 10, byTime: true));
        context.Log($"waiting: all {ids.Count} signalled in {signalSeconds:F1} s, all succeeded after {resumeSeconds:F1} s");
    }

    public static string Method(Plan plan) =>
        WaitingMethod.Replace("{concurrency}", CreateConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{signals}", SignalConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private static async Task<int> CountAsync(TableClient runs, string tenant, string status)
    {
        var count = 0;
        await foreach (var _ in runs.QueryAsync<TableEntity>(
            TableClient.CreateQueryFilter($"PartitionKey eq {tenant} and Status eq {status}"), select: ["RowKey"]))
        {
            count++;
        }

        return count;
    }

    private static async Task UntilAsync(Func<Task<int>> count, int target, TimeSpan timeout, TimeSpan every)
    {
        var deadline = BenchContext.After(Clock.Now, timeout);
        int seen;
        while ((seen = await count()) < target)
        {
            if (Clock.Now > deadline)
            {
                throw new TimeoutException($"Only {seen} of {target} runs got there within {timeout}.");
            }

            await Task.Delay(every);
        }
    }
}
