using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Schemas;

namespace AgentRuns.Functions.Runs;

/// <summary>A transition's result: what the caller learns, and the change to write (none when nothing changes).</summary>
public sealed record RunTransition<T>(T Outcome, RunRecord? Next = null, IReadOnlyList<RunEvent>? Events = null)
{
    public bool Writes => Next is not null;
}

/// <summary>
/// The run's state machine: every change of a run record, as a pure function of the record (and the command and the
/// time). Nothing else decides what a run becomes. <c>RunStore.ApplyAsync</c> writes a transition's record and events in
/// one conditional write, so:
/// <list type="bullet">
/// <item>a signal is arbitrated in <see cref="AcceptSignal"/>, the deadline in <see cref="Expire"/>, a cancel in <see cref="Cancel"/>;</item>
/// <item><c>seq</c> is assigned here (<see cref="Change{T}"/>): the record holds the log's last seq and every event is appended
/// with the record, so the log has no gap and no duplicate whoever writes (the orchestration, a signal, the deadline, the repairer);</item>
/// <item>of two racing writers one lands and the other re-reads and decides again.</item>
/// </list>
/// </summary>
public static class RunTransitions
{
    /// <summary>A new run: queued, with <c>run.created</c> as its first event.</summary>
    public static RunTransition<RunRecord> Create(
        string tenantId, string runId, string inputJson, string? metadataJson, int signalTimeoutSeconds, DateTimeOffset createdAt,
        string agent = Agents.AgentNames.Scripted)
    {
        var empty = new RunRecord
        {
            TenantId = tenantId,
            RunId = runId,
            Status = RunStatus.Queued,
            CreatedAt = createdAt,
            UpdatedAt = createdAt,
            InputJson = inputJson,
            MetadataJson = metadataJson,
            SignalTimeoutSeconds = signalTimeoutSeconds,
            Agent = agent,
        };
        var change = Change(empty, empty, empty, createdAt, RunEventValues.Created(inputJson, metadataJson, agent));
        return change with { Outcome = change.Next! };
    }

    /// <summary>A numbered write of the orchestration. Applied once; refused (<see cref="WriteOutcome.Ended"/>) once the run ended.</summary>
    public static RunTransition<WriteOutcome> Apply(RunRecord? run, RunWrite write, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (run is null)
        {
            throw new InvalidOperationException("The run has no record.");
        }

        if (run.AppliedWrites >= write.Index)
        {
            return new(WriteOutcome.Applied); // an earlier attempt of this write landed
        }

        if (run.IsTerminal)
        {
            return new(WriteOutcome.Ended);
        }

        // The orchestration writes again only after it has taken the last answer in: the payload need not stay.
        var next = run with
        {
            AppliedWrites = write.Index,
            LastAnswer = run.LastAnswer is { Consumed: false } answer ? answer with { Consumed = true, PayloadJson = null } : run.LastAnswer,
        };
        switch (write.Kind)
        {
            case RunWriteKind.Start:
                return Change(WriteOutcome.Applied, run, next with { Status = RunStatus.Running }, now, RunEventValues.Started());

            case RunWriteKind.Progress:
                NewEvent[] progress = write.Notes is { Count: > 0 } notes
                    ? [.. notes.Select(n => RunEventValues.Progress(write.Step, n.Tool, n.Summary, n.ArgumentsJson))]
                    : [RunEventValues.Progress(write.Step, write.Tool ?? "work", write.Summary ?? "")];
                return Change(WriteOutcome.Applied, run, next with { Status = RunStatus.Running }, now, progress);

            case RunWriteKind.OpenRequest:
                var request = write.Request ?? throw new ArgumentException("An OpenRequest write needs its request.", nameof(write));
                return Change(
                    WriteOutcome.Applied, run, next with { Status = RunStatus.AwaitingInput, Pending = request, RemindersSent = [], Extends = null }, now,
                    RunEventValues.AwaitingInput(request, write.RequestRedacted));

            case RunWriteKind.Complete:
                var ending = write.Ending ?? throw new ArgumentException("A Complete write needs its ending.", nameof(write));
                if (ending.Status == RunStatus.Succeeded && (ending.OutputJson ?? "{}").Length > RunLimits.MaxOutputChars)
                {
                    ending = RunEnding.Failed(
                        RunReasonCodes.OutputTooLarge,
                        $"The agent's output has {ending.OutputJson!.Length} characters; a run's output holds at most {RunLimits.MaxOutputChars}.");
                }

                return ending.Status == RunStatus.Succeeded
                    ? Change(
                        WriteOutcome.Applied, run, next with { Status = RunStatus.Succeeded, Pending = null, OutputJson = ending.OutputJson ?? "{}" }, now,
                        RunEventValues.Succeeded(ending.OutputJson ?? "{}", ending.OutputRedacted))
                    : Change(
                        WriteOutcome.Applied, run, next with { Status = RunStatus.Failed, Pending = null, Error = ending.Error }, now,
                        RunEventValues.Failed(ending.Error ?? new RunError(RunReasonCodes.AgentFailed, null)));

            default:
                throw new ArgumentOutOfRangeException(nameof(write), write.Kind, "Unknown write.");
        }
    }

    /// <summary>
    /// A human's answer. Exactly one answer per request is accepted: the record must wait on that request, the request must not
    /// have expired by the clock (whatever the timer does), and the action must be one the request allows.
    /// </summary>
    public static RunTransition<SignalOutcome> AcceptSignal(RunRecord? run, SignalCommand command, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(command);
        if (run is null)
        {
            return new(new SignalOutcome(SignalVerdict.NotFound));
        }

        if (command.IdempotencyKey is not null && run.LastAnswer is { } previous
            && string.Equals(previous.IdempotencyKey, command.IdempotencyKey, StringComparison.Ordinal))
        {
            return new(new SignalOutcome(SignalVerdict.Replayed, previous));
        }

        if (run.Status != RunStatus.AwaitingInput || run.Pending is not { } pending)
        {
            return NotAwaiting($"Run '{run.RunId}' is {run.Status}, not awaiting input.");
        }

        if (command.RequestId is not null && !string.Equals(command.RequestId, pending.RequestId, StringComparison.Ordinal))
        {
            return NotAwaiting($"Run '{run.RunId}' is not awaiting input for request '{command.RequestId}'.");
        }

        if (now >= pending.ExpiresAt)
        {
            return NotAwaiting($"Request '{pending.RequestId}' of run '{run.RunId}' expired at {ApiJson.FormatTimestamp(pending.ExpiresAt)}.");
        }

        if (!pending.AllowedActions.Contains(command.Action, StringComparer.Ordinal))
        {
            return new(new SignalOutcome(SignalVerdict.ActionNotAllowed, AllowedActions: pending.AllowedActions));
        }

        // The answer must fit the request: edits only where allowed, and what the human supplies must match the schema.
        var edited = command.Action == SignalActions.Approve ? RequestAnswers.EditedArguments(command.PayloadJson) : null;
        if (edited is not null && !pending.AllowEdits)
        {
            return Invalid(400, $"Request '{pending.RequestId}' does not allow edits: approve it without payload.arguments.", []);
        }

        if (edited is not null && pending.ProposedActionJson is null)
        {
            return Invalid(400, $"Request '{pending.RequestId}' proposes no action whose arguments could be edited: approve it without payload.arguments.", []);
        }

        if (edited is "null")
        {
            return Invalid(400, "payload.arguments is null: send the arguments to approve with, or leave it out to approve the proposed ones.", []);
        }

        var supplied = command.Action == SignalActions.SubmitInput ? command.PayloadJson : edited;
        if (supplied is not null && pending.ResponseSchemaJson is { } schema && ResponseSchemas.Validate(schema, supplied) is { Count: > 0 } errors)
        {
            var what = command.Action == SignalActions.SubmitInput ? "payload" : "payload.arguments";
            return Invalid(422, $"The {what} does not conform to the request's response_schema.", errors);
        }

        var approved = command.Action == SignalActions.Approve ? RequestAnswers.ApprovedAction(pending.ProposedActionJson, edited) : null;
        var answer = new Answer(pending.RequestId, command.Action, now, command.Actor, command.IdempotencyKey, command.PayloadJson, ApprovedActionJson: approved);
        // The event shows the edited arguments as the log shows the payload they come from: secret-looking fields masked.
        var proposedArguments = RequestAnswers.Arguments(pending.ProposedActionJson);
        var arguments = command.Action == SignalActions.Approve && (edited is not null || proposedArguments is not null)
            ? new SignalArguments(
                proposedArguments,
                edited is null ? proposedArguments : RequestAnswers.EditedArguments(command.LoggedPayloadJson ?? command.PayloadJson),
                Edited: edited is not null && !string.Equals(proposedArguments, edited, StringComparison.Ordinal))
            : null;
        return Change(
            new SignalOutcome(SignalVerdict.Accepted, answer), run,
            run with { Status = RunStatus.Running, Pending = null, LastAnswer = answer, RemindersSent = [] }, now,
            RunEventValues.SignalReceived(
                pending.RequestId, command.Action, command.LoggedPayloadJson ?? command.PayloadJson, command.PayloadRedacted, command.Actor, arguments));

        static RunTransition<SignalOutcome> NotAwaiting(string detail) => new(new SignalOutcome(SignalVerdict.NotAwaitingInput, Detail: detail));

        static RunTransition<SignalOutcome> Invalid(int status, string detail, IReadOnlyList<ProblemError> errors) =>
            new(new SignalOutcome(SignalVerdict.InvalidPayload, Detail: detail, Status: status, Errors: errors));
    }

    /// <summary>
    /// A reminder of the pending request, <paramref name="secondsBefore"/> its deadline: appended once, only while the request is
    /// unanswered and its deadline not passed, and only once it is due (the deadline may have moved since it was planned).
    /// </summary>
    public static RunTransition<RemindOutcome> Remind(RunRecord? run, string requestId, int secondsBefore, DateTimeOffset now)
    {
        if (run is null || run.IsTerminal || run.Pending is not { } pending || !string.Equals(pending.RequestId, requestId, StringComparison.Ordinal)
            || now >= pending.ExpiresAt)
        {
            return new(new RemindOutcome(RemindVerdict.Gone));
        }

        if (run.RemindersSent.Contains(secondsBefore))
        {
            return new(new RemindOutcome(RemindVerdict.Sent, pending.ExpiresAt));
        }

        // A timer can fire up to a second early: two seconds of slack, so a reminder is never refused for that alone.
        if (now < pending.ExpiresAt.AddSeconds(-secondsBefore).AddSeconds(-2))
        {
            return new(new RemindOutcome(RemindVerdict.NotYet, pending.ExpiresAt));
        }

        return Change(
            new RemindOutcome(RemindVerdict.Sent, pending.ExpiresAt), run,
            run with { RemindersSent = [.. run.RemindersSent, secondsBefore] }, now,
            RunEventValues.InputReminder(pending.RequestId, pending.ExpiresAt, secondsBefore));
    }

    /// <summary>
    /// Moves the deadline of the pending request. Decided by the same record and clock as the deadline itself: a request whose
    /// deadline has passed cannot be extended, so of an extension and a timeout exactly one wins. The reminders start over
    /// from the new deadline. <paramref name="attempt"/> names this extend: every extend that moved the request's deadline is
    /// remembered (<see cref="RunRecord.Extends"/>), so the same attempt sent again is told what it did, whatever landed since;
    /// that is why a request's deadline moves at most <see cref="RunLimits.MaxExtendsPerRequest"/> times.
    /// </summary>
    public static RunTransition<ExtendOutcome> Extend(
        RunRecord? run, string requestId, ExtendRequest request, TimeSpan longestWait, Actor? actor, DateTimeOffset now, string? attempt = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (run is null)
        {
            return new(new ExtendOutcome(ExtendVerdict.NotFound));
        }

        var waiting = run.Status == RunStatus.AwaitingInput && run.Pending is { } p && string.Equals(p.RequestId, requestId, StringComparison.Ordinal)
            ? run.Pending
            : null;
        if (run.Extends?.Find(requestId, attempt) is { } landed)
        {
            // This extend landed already (its answer was lost): say what it did, even if the request was answered since.
            return new(new ExtendOutcome(ExtendVerdict.Extended, landed.From, landed.To, PendingExpiresAt: waiting?.ExpiresAt));
        }

        if (waiting is not { } pending)
        {
            return new(new ExtendOutcome(ExtendVerdict.NotAwaitingInput, Detail: $"Run '{run.RunId}' is not awaiting input for request '{requestId}'."));
        }

        if (now >= pending.ExpiresAt)
        {
            return new(new ExtendOutcome(
                ExtendVerdict.NotAwaitingInput, Detail: $"Request '{requestId}' expired at {ApiJson.FormatTimestamp(pending.ExpiresAt)}."));
        }

        // "By n seconds" counts from the deadline this decision sees, so concurrent extends add up; a deadline given outright
        // may not be earlier than the current one (another extend may have moved it past: the later one stands).
        var expiresAt = request.ExpiresAt ?? pending.ExpiresAt.AddSeconds(request.ExtendBySeconds ?? 0);
        if (expiresAt < pending.ExpiresAt)
        {
            return new(new ExtendOutcome(
                ExtendVerdict.Invalid,
                Detail: $"The new deadline is earlier than the current one ({ApiJson.FormatTimestamp(pending.ExpiresAt)}): a deadline can only be extended."));
        }

        if (expiresAt <= now || expiresAt > now + longestWait)
        {
            return new(new ExtendOutcome(
                ExtendVerdict.Invalid, Detail: $"The new deadline must be after now and at most {(int)longestWait.TotalSeconds} seconds from now."));
        }

        if (expiresAt == pending.ExpiresAt)
        {
            return new(new ExtendOutcome(ExtendVerdict.Extended, pending.ExpiresAt, expiresAt, PendingExpiresAt: expiresAt)); // already there: nothing to write
        }

        IReadOnlyList<ExtendMark> marks = run.Extends is { } log && string.Equals(log.RequestId, requestId, StringComparison.Ordinal) ? log.Marks : [];
        if (marks.Count >= RunLimits.MaxExtendsPerRequest)
        {
            return new(new ExtendOutcome(
                ExtendVerdict.LimitReached,
                Detail: $"The deadline of request '{requestId}' was moved {marks.Count} times, the most a request allows; it stays {ApiJson.FormatTimestamp(pending.ExpiresAt)}."));
        }

        var mark = new ExtendMark(attempt is null ? ExtendLog.Unnamed : ExtendLog.Hash(attempt), pending.ExpiresAt, expiresAt);
        return Change(
            new ExtendOutcome(ExtendVerdict.Extended, pending.ExpiresAt, expiresAt, PendingExpiresAt: expiresAt), run,
            run with { Pending = pending with { ExpiresAt = expiresAt }, RemindersSent = [], Extends = new ExtendLog(requestId, [.. marks, mark]) }, now,
            RunEventValues.InputExtended(requestId, expiresAt, pending.ExpiresAt, actor));
    }

    /// <summary>
    /// A user's cancel: the run ends at once with <c>run.cancelled</c>; the orchestration stops at its next step.
    /// <paramref name="attempt"/> names this cancel: the same attempt finding the run cancelled by itself is accepted again.
    /// The user's <paramref name="reason"/>, when given, is the run's error reason and is on the event.
    /// </summary>
    public static RunTransition<CancelOutcome> Cancel(RunRecord? run, Actor? actor, DateTimeOffset now, string? attempt = null, string? reason = null)
    {
        if (run is null)
        {
            return new(CancelOutcome.NotFound);
        }

        if (run.IsTerminal)
        {
            return new(attempt is not null && string.Equals(run.CancelAttempt, attempt, StringComparison.Ordinal)
                ? CancelOutcome.Accepted
                : CancelOutcome.NotCancellable);
        }

        var error = new RunError(RunReasonCodes.CancelledByUser, reason ?? "Cancelled by the user.");
        return Change(
            CancelOutcome.Accepted, run, run with { Status = RunStatus.Cancelled, Pending = null, Error = error, CancelAttempt = attempt }, now,
            RunEventValues.Cancelled(RunReasonCodes.CancelledByUser, actor, reason));
    }

    /// <summary>
    /// The deadline of <paramref name="requestId"/> came (its timer fired, or the repairer found it overdue). The clock decides:
    /// before <c>expires_at</c> nothing happens; after it, the run is cancelled with signal_timeout unless a signal got there first.
    /// </summary>
    public static RunTransition<ExpireOutcome> Expire(RunRecord? run, string requestId, DateTimeOffset now)
    {
        if (run is null)
        {
            throw new InvalidOperationException("The run has no record.");
        }

        if (run.IsTerminal)
        {
            return new(new ExpireOutcome(
                run.Status == RunStatus.Cancelled && run.Error?.ReasonCode == RunReasonCodes.SignalTimeout ? ExpireVerdict.Expired : ExpireVerdict.Ended));
        }

        if (run.LastAnswer is { } answer && string.Equals(answer.RequestId, requestId, StringComparison.Ordinal))
        {
            return new(new ExpireOutcome(ExpireVerdict.Answered, answer));
        }

        if (run.Status != RunStatus.AwaitingInput || run.Pending is not { } pending || !string.Equals(pending.RequestId, requestId, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"Run {run.RunId} is {run.Status}, not waiting on request {requestId}.");
        }

        if (now < pending.ExpiresAt)
        {
            return new(new ExpireOutcome(ExpireVerdict.NotYet, ExpiresAt: pending.ExpiresAt));
        }

        var error = new RunError(RunReasonCodes.SignalTimeout, "No signal arrived before the request expired.");
        return Change(
            new ExpireOutcome(ExpireVerdict.Expired), run, run with { Status = RunStatus.Cancelled, Pending = null, Error = error }, now,
            RunEventValues.Cancelled(RunReasonCodes.SignalTimeout, actor: null));
    }

    /// <summary>The engine cannot carry the run on: it ends failed with <c>engine_error</c>. Nothing happens to a run that ended.</summary>
    public static RunTransition<bool> FailForEngine(RunRecord? run, string reason, DateTimeOffset now)
    {
        if (run is null || run.IsTerminal)
        {
            return new(false);
        }

        var error = new RunError(RunReasonCodes.EngineError, RunLimits.Reason(reason));
        return Change(true, run, run with { Status = RunStatus.Failed, Pending = null, Error = error }, now, RunEventValues.Failed(error));
    }

    /// <summary>The change from <paramref name="run"/> to <paramref name="next"/>, appending <paramref name="events"/> right after the log's end.</summary>
    private static RunTransition<T> Change<T>(T outcome, RunRecord run, RunRecord next, DateTimeOffset now, params NewEvent[] events)
    {
        var seq = run.LastEventSeq;
        var numbered = events.Select(e => new RunEvent(++seq, e.Type, now, e.Redacted, e.ValueJson)).ToList();
        return new(outcome, next with { LastEventSeq = seq, UpdatedAt = now }, numbered);
    }
}
