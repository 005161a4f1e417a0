using AgentRuns.Functions.Runs;

namespace AgentRuns.Functions.Orchestrations;

// Messages between the HTTP functions, the run orchestration and its activities. Raw client JSON travels as text so that
// any Durable data converter round-trips it unchanged.

/// <summary>The orchestration's input: what the run needs, fixed at creation.</summary>
public sealed record RunOrchestrationInput(string TenantId, string RunId, string InputJson, int SignalTimeoutSeconds, string Agent = Agents.AgentNames.Scripted);

/// <summary>Input of <c>WriteRun</c>: one numbered write of the orchestration to its run.</summary>
public sealed record WriteRunInput(string TenantId, string RunId, RunWrite Write);

/// <summary>Input of <c>ExpireRequest</c>: the deadline of this request came.</summary>
public sealed record ExpireRequestInput(string TenantId, string RunId, string RequestId);

/// <summary>A human's accepted answer, raised to the orchestration. Its event in the log was written when it was accepted.</summary>
public sealed record SignalEvent(
    string RequestId, string Action, string? PayloadJson, DateTimeOffset AcceptedAt, Model.Actor? Actor = null, string? ApprovedActionJson = null)
{
    public static SignalEvent From(Answer answer)
    {
        ArgumentNullException.ThrowIfNull(answer);
        return new SignalEvent(answer.RequestId, answer.Action, answer.PayloadJson, answer.AcceptedAt, answer.Actor, answer.ApprovedActionJson);
    }
}

/// <summary>Raised to the orchestration when a request's deadline was moved (it plans its timers again).</summary>
public sealed record DeadlineMovedEvent(string RequestId, DateTimeOffset ExpiresAt);

/// <summary>Input of <c>RemindHuman</c>: a reminder of this request, this many seconds before its deadline, is due.</summary>
public sealed record RemindInput(string TenantId, string RunId, string RequestId, int SecondsBefore);

/// <summary>Raised to the orchestration when a user cancelled the run (the record already says so).</summary>
public sealed record CancelEvent(DateTimeOffset RequestedAt);

/// <summary>Names of the external events the run orchestration waits for.</summary>
public static class RunEventNames
{
    public const string Signal = "signal";
    public const string Cancel = "cancel";
    public const string DeadlineMoved = "deadline_moved";
}
