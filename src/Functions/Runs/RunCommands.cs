using AgentRuns.Functions.Model;

namespace AgentRuns.Functions.Runs;

// The inputs and outcomes of RunTransitions. The orchestration's writes and the deadline's outcome cross Durable's
// boundary (activity input and output), so they are plain records.

/// <summary>What a numbered write of the orchestration does.</summary>
public enum RunWriteKind
{
    /// <summary>queued → running: <c>run.started</c>.</summary>
    Start,

    /// <summary>The agent did a step: <c>run.worker.progress</c>.</summary>
    Progress,

    /// <summary>The agent needs a human: awaiting_input and <c>run.awaiting_input</c>.</summary>
    OpenRequest,

    /// <summary>The run ends succeeded or failed: <c>run.worker.succeeded</c> / <c>run.worker.failed</c>.</summary>
    Complete,
}

/// <summary>
/// A write of the orchestration. <see cref="Index"/> counts its writes (1, 2, 3…, deterministic under replay): the record
/// keeps the last one applied, so an activity that runs twice applies its write once.
/// </summary>
/// <param name="Notes">For <see cref="RunWriteKind.Progress"/>: one <c>run.worker.progress</c> each (else Tool and Summary make one).</param>
/// <param name="RequestRedacted">For <see cref="RunWriteKind.OpenRequest"/>: the agent masked secrets in the proposed action.</param>
public sealed record RunWrite(
    int Index,
    RunWriteKind Kind,
    int Step = 0,
    string? Tool = null,
    string? Summary = null,
    PendingRequest? Request = null,
    RunEnding? Ending = null,
    IReadOnlyList<Agents.ProgressNote>? Notes = null,
    bool RequestRedacted = false);

/// <summary>How a run ends when its agent finishes or fails.</summary>
public sealed record RunEnding(string Status, string? OutputJson = null, bool OutputRedacted = false, RunError? Error = null)
{
    public static RunEnding Succeeded(string outputJson, bool redacted = false) => new(RunStatus.Succeeded, outputJson, redacted);

    public static RunEnding Failed(string reasonCode, string? reason) => new(RunStatus.Failed, Error: new RunError(reasonCode, reason is null ? null : RunLimits.Reason(reason)));
}

public enum WriteOutcome
{
    /// <summary>The write is in the record (now, or by an earlier attempt of the same write).</summary>
    Applied,

    /// <summary>The run had already ended (a cancel, a timeout, a repair): nothing was written; the orchestration stops.</summary>
    Ended,
}

/// <summary>A human's answer, as the signal endpoint hands it to the state machine.</summary>
/// <param name="LoggedPayloadJson">The payload with secrets masked, for the log.</param>
/// <param name="IdempotencyKey">The idempotency key of the request, if it has one.</param>
public sealed record SignalCommand(
    string Action,
    string? RequestId,
    string? PayloadJson,
    string? LoggedPayloadJson,
    bool PayloadRedacted,
    Actor? Actor,
    string? IdempotencyKey);

public enum SignalVerdict
{
    Accepted,

    /// <summary>This very request (same idempotency key) was accepted before: answer as it was answered then.</summary>
    Replayed,
    NotFound,
    NotAwaitingInput,
    ActionNotAllowed,

    /// <summary>The payload does not fit the request: it fails its <c>response_schema</c> (422), or edits the proposed action
    /// of a request that does not allow edits (400).</summary>
    InvalidPayload,
}

public sealed record SignalOutcome(
    SignalVerdict Verdict,
    Answer? Answer = null,
    string? Detail = null,
    IReadOnlyList<string>? AllowedActions = null,
    int Status = 0,
    IReadOnlyList<ProblemError>? Errors = null);

public enum CancelOutcome
{
    Accepted,
    NotFound,
    NotCancellable,
}

public enum ExpireVerdict
{
    /// <summary>The deadline won: the run is cancelled with signal_timeout.</summary>
    Expired,

    /// <summary>A signal won: <see cref="ExpireOutcome.Answer"/> is the accepted answer.</summary>
    Answered,

    /// <summary>The run ended otherwise (a cancel, a repair).</summary>
    Ended,

    /// <summary>The deadline has not passed yet (a timer that fired early): wait until <see cref="ExpireOutcome.ExpiresAt"/>.</summary>
    NotYet,
}

public sealed record ExpireOutcome(ExpireVerdict Verdict, Answer? Answer = null, DateTimeOffset? ExpiresAt = null);

public enum RemindVerdict
{
    /// <summary><c>run.input_reminder</c> was appended (or had been, by an earlier attempt).</summary>
    Sent,

    /// <summary>The deadline moved: this reminder is not due yet; plan again from <see cref="RemindOutcome.ExpiresAt"/>.</summary>
    NotYet,

    /// <summary>The request was answered, expired or the run ended: no reminder.</summary>
    Gone,
}

public sealed record RemindOutcome(RemindVerdict Verdict, DateTimeOffset? ExpiresAt = null);

public enum ExtendVerdict
{
    Extended,
    NotFound,

    /// <summary>The run does not wait on that request, or its deadline has passed.</summary>
    NotAwaitingInput,

    /// <summary>The new deadline is not later than now, or further than the longest a run may wait.</summary>
    Invalid,

    /// <summary>The request's deadline was moved <see cref="RunLimits.MaxExtendsPerRequest"/> times already.</summary>
    LimitReached,
}

/// <param name="PreviousExpiresAt">The deadline this extend moved from.</param>
/// <param name="ExpiresAt">The deadline this extend moved to.</param>
/// <param name="PendingExpiresAt">The request's deadline now, while it is still pending (what the orchestration is told); null once
/// it is not (the retry of an extend that landed before the request was answered or closed).</param>
public sealed record ExtendOutcome(
    ExtendVerdict Verdict, DateTimeOffset? PreviousExpiresAt = null, DateTimeOffset? ExpiresAt = null, string? Detail = null, DateTimeOffset? PendingExpiresAt = null);
