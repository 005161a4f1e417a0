namespace AgentRuns.Functions.Orchestrations;

// Messages between the HTTP functions, the run orchestration and its activities. Raw client JSON travels as
// text so that any Durable data converter round-trips it unchanged.

/// <summary>The orchestration's input: everything the run needs, fixed at creation.</summary>
public sealed record RunOrchestrationInput(
    string TenantId,
    string RunId,
    string InputJson,
    string? MetadataJson,
    int SignalTimeoutSeconds);

/// <summary>An event as the orchestration numbered it.</summary>
public sealed record EventRecord(long Seq, string Type, DateTimeOffset Timestamp, bool Redacted, string ValueJson);

/// <summary>The run record's projected state after a batch of events.</summary>
public sealed record RunProjection(
    string Status,
    string? PendingRequestId = null,
    string? PendingInputJson = null,
    string? OutputJson = null,
    string? ErrorJson = null);

/// <summary>Input of <c>RecordEvents</c>: append these events, then project the run record to this state.</summary>
public sealed record RecordEventsInput(string TenantId, string RunId, IReadOnlyList<EventRecord> Events, RunProjection Projection);

/// <summary>
/// A human's answer, raised to the orchestration once its signal was accepted. <see cref="PayloadJson"/> is what the
/// human sent (the run works with it); <see cref="LoggedPayloadJson"/> is the same with secrets masked, for the log.
/// </summary>
public sealed record SignalEvent(
    string RequestId, string Action, string? PayloadJson, DateTimeOffset AcceptedAt, string? LoggedPayloadJson = null, bool PayloadRedacted = false);

/// <summary>Raised to the orchestration when a user cancels the run.</summary>
public sealed record CancelEvent(DateTimeOffset RequestedAt);

/// <summary>Input of <c>ExpireRequest</c>: the deadline of this request passed.</summary>
public sealed record ExpireRequestInput(string TenantId, string RunId, string RequestId);

public enum ExpireOutcome
{
    /// <summary>The timeout won: the run record is now cancelled with signal_timeout.</summary>
    Expired,

    /// <summary>A signal won the race: <see cref="ExpireRequestResult.Signal"/> is the accepted answer.</summary>
    Answered,

    /// <summary>The user cancelled the run before the deadline.</summary>
    CancelRequested,
}

public sealed record ExpireRequestResult(ExpireOutcome Outcome, SignalEvent? Signal);

/// <summary>Input of <c>ClaimCompletion</c>: move the run to a terminal state unless a cancel came first.</summary>
public sealed record ClaimCompletionInput(string TenantId, string RunId, string Status, string? OutputJson, string? ErrorJson);

/// <summary>Names of the external events the run orchestration waits for.</summary>
public static class RunEventNames
{
    public const string Signal = "signal";
    public const string Cancel = "cancel";
}
