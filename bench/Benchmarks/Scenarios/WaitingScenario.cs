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
        "`POST /v1/runs` with an Idempotency-Key, one after another on a fresh warm host, each measured from send to the " +
        "201 response; every created run starts its orchestration, so the host works on earlier runs while later ones are " +
        "created (they become the first of the waiting runs below). Create latency of the guide's run under 1/8/32 clients " +
        "is in the throughput table.";

    public const string WaitingMethod =
        "The back-to-back creates above, then the rest {concurrency} at a time, no streams open. Every run has the guide's " +
        "goal and a one-step plan (ask for approval, then finish): the shortest run that waits for input, so that this " +
        "scenario's storage work is waiting and resuming (the guide's run adds a draft step before and an act step after " +
        "the approval: about 40% more storage requests, which the emulator could not serve in the time budget). The " +
        "benchmark counts the tenant's `awaiting_input` rows in the Runs table (its own reads, not the host's). " +
        "Memory: RSS (VmRSS in /proc/<pid>/status) and the GC heap (GC.GetGCMemoryInfo in the host, through its " +
        "local-host-only diagnostics route), before the runs (idle, warm) and while they all wait, each as is and right " +
        "after a forced full GC (`collected`: live memory). Resume all: every run approved, {signals} signals in flight at " +
        "a time, from the first signal until the Runs table shows every run succeeded, or until the cap of {cap} s " +
        "(then the report says how many had succeeded, and the timeline shows the rate); host and Azurite cores are CPU " +
        "seconds per second over that window.";

    private const int CreateConcurrency = 8;
    private static readonly string Body = Api.ApprovalsRun(1);
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
            var (runId, ms) = await host.Http.CreateRunAsync(Body);
            ids.Add(runId);
            createMs.Add(ms);
        }

        context.Results.Create = new CreateResults(CreateMethod, Latency.Of(createMs));
        context.Log($"waiting: create p50 {context.Results.Create.Sequential.P50:F1} ms, p95 {context.Results.Create.Sequential.P95:F1} ms");

        context.Log($"waiting: {plan.WaitingRuns - plan.CreateSamples} more creates, {CreateConcurrency} at a time");
        var created = 0;
        using (var gate = new SemaphoreSlim(CreateConcurrency))
        {
            var more = await Task.WhenAll(Enumerable.Range(0, Math.Max(0, plan.WaitingRuns - plan.CreateSamples)).Select(async _ =>
            {
                await gate.WaitAsync();
                try
                {
                    var runId = (await host.Http.CreateRunAsync(Body)).RunId;
                    if (Interlocked.Increment(ref created) % 100 == 0)
                    {
                        context.Log($"waiting: {created} more created");
                    }

                    return runId;
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
        await UntilAsync(
            () => CountAsync(runs, host.Settings.Tenant, "awaiting_input"), ids.Count, TimeSpan.FromMinutes(10), TimeSpan.FromMilliseconds(500),
            seen => context.Log($"waiting: {seen} of {ids.Count} await input"));
        var allWaitingSeconds = Clock.MsSince(createStarted) / 1000;

        await Task.Delay(TimeSpan.FromSeconds(5));
        var waiting = await host.ReadMemoryAsync(collect: false);
        var waitingCollected = await host.ReadMemoryAsync(collect: true);
        context.Log($"waiting: {ids.Count} waiting: RSS {waiting.RssBytes / 1048576.0:F0} MiB, live heap {waitingCollected.GcHeapBytes / 1048576.0:F1} MiB");

        context.Log($"waiting: approving all, {SignalConcurrency} at a time");
        await host.ReadStorageRequestsAsync(reset: true);
        var hostCpu = host.CpuSeconds();
        var azuriteCpu = HostProcess.ProcCpuSeconds(context.Azurite.ProcessId);
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
        context.Log($"waiting: all {ids.Count} signalled in {signalSeconds:F1} s; waiting up to {plan.ResumeCapSeconds} s for all to succeed");
        var timeline = new List<ResumePoint>();
        var nextPoint = BenchContext.After(signalStarted, TimeSpan.FromSeconds(30));
        var cap = BenchContext.After(signalStarted, TimeSpan.FromSeconds(plan.ResumeCapSeconds));
        int succeeded;
        while ((succeeded = await CountAsync(runs, host.Settings.Tenant, "succeeded") - warmRuns) < ids.Count && Clock.Now < cap)
        {
            if (Clock.Now >= nextPoint)
            {
                timeline.Add(new ResumePoint(Math.Round(Clock.MsSince(signalStarted) / 1000, 1), succeeded));
                context.Log($"waiting: {succeeded} of {ids.Count} succeeded");
                while (nextPoint <= Clock.Now)
                {
                    nextPoint = BenchContext.After(nextPoint, TimeSpan.FromSeconds(30)); // one point per 30 s, none owed
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }

        var resumeSeconds = Clock.MsSince(signalStarted) / 1000;
        timeline.Add(new ResumePoint(Math.Round(resumeSeconds, 1), succeeded));
        var hostCores = (host.CpuSeconds() - hostCpu) / resumeSeconds;
        var azuriteCores = (HostProcess.ProcCpuSeconds(context.Azurite.ProcessId) - azuriteCpu) / resumeSeconds;
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
            succeeded == ids.Count ? Math.Round(resumeSeconds, 1) : null,
            succeeded,
            timeline,
            Math.Round(hostCores, 2),
            Math.Round(azuriteCores, 2),
            Latency.Of(signalMs),
            after,
            Math.Round(storage.Total / storage.Seconds, 1),
            CostScenario.Top(storage.Per(ids.Count), take: 10, byTime: true));
        context.Log(succeeded == ids.Count
            ? $"waiting: all {ids.Count} succeeded {resumeSeconds:F1} s after the first signal"
            : $"waiting: {succeeded} of {ids.Count} succeeded within the {plan.ResumeCapSeconds} s cap");
    }

    public static string Method(Plan plan) =>
        WaitingMethod.Replace("{concurrency}", CreateConcurrency.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{cap}", plan.ResumeCapSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
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

    /// <summary>Polls until the count reaches the target (progress every 20 s), or fails after the timeout.</summary>
    private static async Task UntilAsync(Func<Task<int>> count, int target, TimeSpan timeout, TimeSpan every, Action<int> progress)
    {
        var deadline = BenchContext.After(Clock.Now, timeout);
        var report = BenchContext.After(Clock.Now, TimeSpan.FromSeconds(20));
        int seen;
        while ((seen = await count()) < target)
        {
            if (Clock.Now > deadline)
            {
                throw new TimeoutException($"Only {seen} of {target} runs got there within {timeout}.");
            }

            if (Clock.Now > report)
            {
                progress(seen);
                report = BenchContext.After(Clock.Now, TimeSpan.FromSeconds(20));
            }

            await Task.Delay(every);
        }
    }
}
