using AgentRuns.Benchmarks.Infra;

namespace AgentRuns.Benchmarks;

/// <summary>How much of everything one benchmark run does. <see cref="Full"/> is the documented run (~24 min on 2 cores).</summary>
public sealed record Plan(
    string Name,
    int WarmupRuns,
    int BaselineSeconds,
    int CostRuns,
    IReadOnlyList<SignalPlan> Signal,
    int SequentialPairs,
    int AppendRuns,
    int AppendSteps,
    int AppendConcurrency,
    int WriterStreams,
    int WriterAppends,
    IReadOnlyList<int> Clients,
    int ThroughputSeconds,
    int CreateSamples,
    int WaitingRuns,
    int ResumeCapSeconds,
    int RepairFinishedRuns,
    int RepairWaitingRuns)
{
    public static readonly Plan Full = new(
        "full", WarmupRuns: 2, BaselineSeconds: 120, CostRuns: 20, Signal: [new(0, 50, 4), new(5, 50, 4), new(40, 50, 4)],
        SequentialPairs: 20, AppendRuns: 24, AppendSteps: 10, AppendConcurrency: 8, WriterStreams: 20, WriterAppends: 10,
        Clients: [1, 8, 32], ThroughputSeconds: 15, CreateSamples: 300, WaitingRuns: 1000,
        ResumeCapSeconds: 600, RepairFinishedRuns: 1000, RepairWaitingRuns: 100);

    /// <summary>A smoke run of every scenario (~3 min): the numbers mean little.</summary>
    public static readonly Plan Quick = new(
        "quick", WarmupRuns: 1, BaselineSeconds: 30, CostRuns: 3, Signal: [new(0, 5, 2), new(5, 5, 2)],
        SequentialPairs: 3, AppendRuns: 2, AppendSteps: 3, AppendConcurrency: 2, WriterStreams: 3, WriterAppends: 3,
        Clients: [1, 4], ThroughputSeconds: 5, CreateSamples: 20, WaitingRuns: 50,
        ResumeCapSeconds: 120, RepairFinishedRuns: 100, RepairWaitingRuns: 20);
}

/// <summary>Signal rounds after <paramref name="IdleSeconds"/> of idle: <paramref name="Batch"/> runs signalled at once, <paramref name="Rounds"/> times.</summary>
public sealed record SignalPlan(int IdleSeconds, int Batch, int Rounds);

public sealed class Results
{
    public required DateTimeOffset StartedAt { get; init; }

    public required string Command { get; init; }

    public required Plan Plan { get; init; }

    public required MachineInfo Machine { get; set; }

    public double DurationSeconds { get; set; }

    public SignalResults? Signal { get; set; }

    public AppendResults? Append { get; set; }

    public CostResults? Cost { get; set; }

    public List<ThroughputResult> Throughput { get; } = [];

    public CreateResults? Create { get; set; }

    public WaitingResult? Waiting { get; set; }

    public Scenarios.InboxResults? Inbox { get; set; }

    public List<MicroResult> Micro { get; } = [];

    /// <summary>How the scenarios without a method of their own were measured (throughput, waiting, micro).</summary>
    public Dictionary<string, string> Methods { get; } = [];

    public List<string> Errors { get; } = [];

    /// <summary>Warnings and errors each host logged (Durable Task Framework and app), by scenario, message and count.</summary>
    public Dictionary<string, Dictionary<string, int>> HostWarnings { get; } = [];
}

/// <summary>One way of signalling (<c>api</c>: POST /signal; <c>raise_event</c>: DurableTaskClient.RaiseEventAsync) after one idle time.</summary>
public sealed record SignalCase(
    string Path,
    int IdleSeconds,
    int Batch,
    int Rounds,
    Latency Resume,
    Latency FirstOfRound,
    Latency Call);

public sealed record Ratio(double P50, double P95, double P99)
{
    public static Ratio Of(Latency a, Latency b) => new(Math.Round(a.P50 / b.P50, 2), Math.Round(a.P95 / b.P95, 2), Math.Round(a.P99 / b.P99, 2));
}

public sealed record SequentialComparison(int Pairs, Latency Api, Latency RaiseEvent, Ratio Ratio);

public sealed record SignalResults(string Method, List<SignalCase> Cases, Ratio? BatchRatio, SequentialComparison? Sequential);

public sealed record AppendResults(string Method, Latency InProcess, Latency OtherWriter);

/// <summary>Storage requests by service and sender.</summary>
public sealed record StorageSummary(
    double Total, double Tables, double Queues, double Blobs, double AppTables, double DurableTables, double DurableQueues, double DurableBlobs)
{
    public static StorageSummary Of(StorageCounts c) => new(
        R(c.Total), R(c.Of(service: "tables")), R(c.Of(service: "queues")), R(c.Of(service: "blobs")),
        R(c.Of("app", "tables")), R(c.Of("durable", "tables")), R(c.Of("durable", "queues")), R(c.Of("durable", "blobs")));

    private static double R(double v) => Math.Round(v, 1);
}

/// <summary>A kind of storage request: how many, and how long each took on average as the host saw it (send to response).</summary>
public sealed record RequestLine(string Source, string Service, string Method, string Resource, double Count, double? MsEach);

public sealed record CostResults(
    string Method,
    double BaselineSeconds,
    StorageSummary IdleHostPerMinute,
    int ApproveFlowRuns,
    StorageSummary PerApproveFlowRun,
    double IdleStreamMinutes,
    StorageSummary? PerIdleStreamMinute,
    List<RequestLine> IdleHostTop,
    List<RequestLine> PerRunTop,
    List<RequestLine>? IdleStreamTop,
    AppTables AppPerApproveFlowRun,
    List<RequestLine> AppPerRunLines,
    RepairerResults? Repairer);

/// <summary>
/// The app's own table requests by table, as the host counted them (the resource is the table's name, the host's prefix
/// taken off: <c>{prefix}Runs</c>, <c>{prefix}Open</c>, <c>{prefix}Idem</c>, <c>{prefix}Keys</c>, as <c>LocalHostLaunch</c> names
/// them). An entity-group transaction is counted as <c>$batch</c>, without its table: the app's transactions are the run
/// store's (a run's record and its events, in Runs); the only other one, the idempotency purge, runs at start and then hourly,
/// outside every window measured here.
/// </summary>
public sealed record AppTables(double Total, double Runs, double OpenRuns, double Idempotency, double ApiKeys, double Other)
{
    public static AppTables Of(StorageCounts c)
    {
        double runs = 0, open = 0, idempotency = 0, keys = 0, other = 0;
        foreach (var (kind, count) in c.Requests.Where(r => r.Key is { Source: "app", Service: "tables" }))
        {
            switch (kind.Resource)
            {
                case "Runs" or "$batch":
                    runs += count;
                    break;
                case "Open":
                    open += count;
                    break;
                case "Idem":
                    idempotency += count;
                    break;
                case "Keys":
                    keys += count;
                    break;
                default:
                    other += count;
                    break;
            }
        }

        return new(R(runs + open + idempotency + keys + other), R(runs), R(open), R(idempotency), R(keys), R(other));
    }

    private static double R(double v) => Math.Round(v, 2);
}

/// <summary>What the repairer costs when nothing is wrong: idle windows with no, many ended and many waiting runs; one look at a due run.</summary>
/// <param name="CreateRetries">Creates of the ended and waiting runs the benchmark had to send again (same key, after Retry-After), by answer.</param>
public sealed record RepairerResults(string Method, int IntervalSeconds, List<IdleWindow> Windows, RepairLook? Look, Dictionary<string, int> CreateRetries);

/// <summary>
/// An idle window of the cost scenario's host: what the tenant held when it started (run records by state, rows of the
/// open-runs index and how many of those came due before the window ended), and what the host sent per minute.
/// <paramref name="OpenRunsQueries"/> is the raw count of the app's <c>GET {prefix}Open</c> in the window: one per repair pass
/// when nothing is due.
/// </summary>
public sealed record IdleWindow(
    string Label,
    int EndedRuns,
    int WaitingRuns,
    int OtherRuns,
    int IndexRows,
    int IndexRowsDue,
    double Seconds,
    int OpenRunsQueries,
    AppTables AppPerMinute,
    StorageSummary PerMinute,
    List<RequestLine> AppTop);

/// <summary>
/// The repairer's first look at runs waiting for input (their index rows come due <c>Repair:StartGraceSeconds</c> after create):
/// requests per look, idle host subtracted, and when the look put each run's next look (median of CheckAt minus the row's
/// write time), hence what <paramref name="Runs"/> waiting runs cost per minute on average.
/// </summary>
public sealed record RepairLook(
    int Runs,
    int LookedBeforeWindow,
    double Seconds,
    AppTables AppPerLook,
    StorageSummary PerLook,
    List<RequestLine> PerLookTop,
    double NextLookSeconds,
    double PerMinuteForAll);

public sealed record ThroughputResult(
    int Clients,
    int Runs,
    double Seconds,
    double RunsPerSecond,
    Latency Create,
    Latency SignalToResume,
    Latency Flow,
    double HostCores,
    double AzuriteCores,
    double BenchCores,
    double StorageRequestsPerSecond,
    List<RequestLine> StorageByTime);

public sealed record CreateResults(string Method, Latency Sequential);

public sealed record WaitingResult(
    int Runs,
    double CreateSeconds,
    double AllWaitingSeconds,
    MemorySample Idle,
    MemorySample IdleCollected,
    MemorySample Waiting,
    MemorySample WaitingCollected,
    double RssBytesPerRun,
    double LiveHeapBytesPerRun,
    double SignalAllSeconds,
    double? ResumeAllSeconds,
    int Resumed,
    List<ResumePoint> Timeline,
    double HostCores,
    double AzuriteCores,
    Latency SignalCall,
    MemorySample AfterResume,
    double StorageRequestsPerSecond,
    List<RequestLine> StorageByTime);

/// <summary>How many of the waiting runs had succeeded <paramref name="Seconds"/> after the first signal.</summary>
public sealed record ResumePoint(double Seconds, int Succeeded);

public sealed record MicroResult(string Name, double MeanNs, double StdErrNs, double? AllocatedBytes);
