namespace AgentRuns.Functions.Model;

/// <summary>The event types of the run event log.</summary>
public static class RunEventTypes
{
    public const string Created = "run.created";
    public const string Started = "run.started";
    public const string Progress = "run.worker.progress";
    public const string AwaitingInput = "run.awaiting_input";
    public const string SignalReceived = "run.signal_received";

    /// <summary>A request is still unanswered and its deadline is near (one per configured reminder).</summary>
    public const string InputReminder = "run.input_reminder";

    /// <summary>A request's deadline was moved.</summary>
    public const string InputExtended = "run.input_extended";
    public const string Succeeded = "run.worker.succeeded";
    public const string Failed = "run.worker.failed";
    public const string Cancelled = "run.cancelled";

    /// <summary>Every type, in the order a run can emit them.</summary>
    public static readonly IReadOnlyList<string> All =
        [Created, Started, Progress, AwaitingInput, InputReminder, InputExtended, SignalReceived, Succeeded, Failed, Cancelled];

    /// <summary>The events after which nothing follows.</summary>
    public static readonly IReadOnlyList<string> Terminal = [Succeeded, Failed, Cancelled];

    public static bool IsTerminal(string type) => type is Succeeded or Failed or Cancelled;
}
