namespace AgentRuns.Functions.Model;

/// <summary>The statuses of a run, as they appear on the wire and in the Runs table.</summary>
public static class RunStatus
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string AwaitingInput = "awaiting_input";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static readonly IReadOnlySet<string> All =
        new HashSet<string>(StringComparer.Ordinal) { Queued, Running, AwaitingInput, Succeeded, Failed, Cancelled };

    public static bool IsTerminal(string status) => status is Succeeded or Failed or Cancelled;
}

/// <summary>The event types of the run event log.</summary>
public static class RunEventTypes
{
    public const string Created = "run.created";
    public const string Started = "run.started";
    public const string Progress = "run.worker.progress";
    public const string AwaitingInput = "run.awaiting_input";
    public const string SignalReceived = "run.signal_received";
    public const string Succeeded = "run.worker.succeeded";
    public const string Failed = "run.worker.failed";
    public const string Cancelled = "run.cancelled";

    public static bool IsTerminal(string type) => type is Succeeded or Failed or Cancelled;
}

/// <summary>The actions a human can answer an <c>awaiting_input</c> request with.</summary>
public static class SignalActions
{
    public const string Approve = "approve";
    public const string Reject = "reject";
    public const string SubmitInput = "submit_input";

    public static readonly IReadOnlyList<string> All = [Approve, Reject, SubmitInput];

    public static bool IsKnown(string action) => action is Approve or Reject or SubmitInput;
}

/// <summary>Why a run waits, and what kind of answer it wants.</summary>
public static class InputKinds
{
    public const string Approval = "approval";
    public const string Clarification = "clarification";
    public const string Data = "data";

    public static string ReasonCodeFor(string inputKind) => inputKind switch
    {
        Approval => "AWAITING_APPROVAL",
        Clarification => "NEEDS_CLARIFICATION",
        Data => "NEEDS_DATA",
        _ => throw new ArgumentOutOfRangeException(nameof(inputKind), inputKind, "Unknown input kind."),
    };

    public static IReadOnlyList<string> DefaultActionsFor(string inputKind) => inputKind == Approval
        ? SignalActions.All
        : [SignalActions.SubmitInput, SignalActions.Reject];
}

/// <summary>Reason codes carried by terminal events and by the run's <c>error</c>.</summary>
public static class RunReasonCodes
{
    public const string SignalTimeout = "signal_timeout";
    public const string CancelledByUser = "cancelled_by_user";
    public const string Rejected = "rejected";
    public const string AgentFailed = "agent_failed";
    public const string AgentError = "agent_error";
}
