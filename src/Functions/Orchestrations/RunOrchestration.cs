using System.Text.Json;
using AgentRuns.Functions.Activities;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Functions.Orchestrations;

/// <summary>
/// The run: one orchestration per run, instance id = run id. It asks the agent for the next step and writes every step to
/// the run through <c>WriteRun</c> (the state machine in <see cref="RunTransitions"/> decides and numbers the events); it
/// waits for humans by racing <c>WaitForExternalEvent</c> against a durable timer, and the clock, through
/// <c>ExpireRequest</c>, decides a deadline. It does no I/O itself. When its writes keep failing it ends the run failed
/// with <c>engine_error</c>; if even that cannot be written, the repairer does it.
/// </summary>
public static partial class RunOrchestration
{
    /// <summary>Writes to the run: storage may be out for minutes, so they are retried for about six minutes.</summary>
    internal static readonly TaskOptions WriteRetry = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 12, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(60)));

    /// <summary>The agent's step.</summary>
    internal static readonly TaskOptions AgentRetry = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 5, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(30)));

    /// <summary>
    /// How long an agent's step waits, each time, when it failed because storage could not be reached
    /// (<see cref="StepStorageUnavailableException"/>): with the step's own retries, about seven minutes, a little longer than
    /// the run's writes are retried. After that the run ends failed with <c>engine_error</c>.
    /// </summary>
    internal static readonly TimeSpan[] StorageOutageWaits =
        [.. new[] { 5, 10, 20, 40, 60, 60, 60, 60 }.Select(s => TimeSpan.FromSeconds(s))];

    /// <summary>A timer may fire up to a second early; the next one is set this much after the deadline.</summary>
    private static readonly TimeSpan TimerSlack = TimeSpan.FromSeconds(1);

    [Function(nameof(RunOrchestration))]
    public static Task<string> Run([OrchestrationTrigger] TaskOrchestrationContext context) =>
        RunAsync(context, context.GetInput<RunOrchestrationInput>()!);

    /// <summary>The body of the orchestration; returns how it ended (for diagnostics: the run record has the truth).</summary>
    public static async Task<string> RunAsync(TaskOrchestrationContext context, RunOrchestrationInput input)
    {
        var run = new RunSteps(context, input);
        try
        {
            return await run.RunAsync();
        }
        catch (RunWriteFailedException ex)
        {
            return await run.FailForEngineAsync(ex.Message);
        }
    }

    internal static string RejectReason(SignalEvent signal)
    {
        if (signal.PayloadJson is not null)
        {
            using var payload = JsonDocument.Parse(signal.PayloadJson);
            if (payload.RootElement.ValueKind == JsonValueKind.Object
                && payload.RootElement.TryGetProperty("reason", out var reason)
                && reason.ValueKind == JsonValueKind.String)
            {
                return reason.GetString()!;
            }
        }

        return "Rejected by a human.";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: step {Step} could not reach storage; asking the agent again in {Seconds} s")]
    private static partial void LogStepWaitsForStorage(ILogger logger, string runId, int step, int seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId}: a write kept failing ({Reason}); ending it with engine_error")]
    private static partial void LogEngineFailure(ILogger logger, string runId, string reason);

    /// <summary>A write to the run failed past its retries.</summary>
    private sealed class RunWriteFailedException(string message) : Exception(message);

    /// <summary>The orchestration's running state: its write counter and the outstanding waits for external events.</summary>
    private sealed class RunSteps(TaskOrchestrationContext context, RunOrchestrationInput input)
    {
        private readonly Task<CancelEvent> _cancel = context.WaitForExternalEvent<CancelEvent>(RunEventNames.Cancel);

        // One outstanding wait per event name at a time, kept across human waits: a new waiter is created only after the
        // previous one received an event, so no abandoned waiter can swallow a later event.
        private Task<SignalEvent>? _signal;
        private Task<DeadlineMovedEvent>? _moved;
        private int _writes;

        public async Task<string> RunAsync()
        {
            if (await WriteAsync(new RunWrite(++_writes, RunWriteKind.Start)) == WriteOutcome.Ended)
            {
                return "ended";
            }

            var answers = new List<HumanAnswer>();
            for (var step = 0; ; step++)
            {
                if (_cancel.IsCompleted)
                {
                    return "cancelled";
                }

                AgentDecision decision;
                for (var outage = 0; ; outage++)
                {
                    try
                    {
                        decision = await context.CallActivityAsync<AgentDecision>(
                            nameof(RunActivities.InvokeAgent), new AgentStepInput(input.RunId, input.InputJson, step, [.. answers], input.TenantId, input.Agent), AgentRetry);
                        break;
                    }
                    catch (TaskFailedException ex) when (StepStorageUnavailableException.IsCause(ex.FailureDetails) && outage < StorageOutageWaits.Length)
                    {
                        // Storage, not the agent, failed the step: wait and ask again (a cancel ends the wait).
                        LogStepWaitsForStorage(context.CreateReplaySafeLogger(nameof(RunOrchestration)), input.RunId, step, (int)StorageOutageWaits[outage].TotalSeconds);
                        if (await WorkAsync(StorageOutageWaits[outage]))
                        {
                            return "cancelled";
                        }
                    }
                    catch (TaskFailedException ex)
                    {
                        return await CompleteAsync(StepStorageUnavailableException.IsCause(ex.FailureDetails)
                            ? RunEnding.Failed(RunReasonCodes.EngineError, "The agent's step could not reach storage for minutes: " + ex.FailureDetails.ErrorMessage)
                            : RunEnding.Failed(RunReasonCodes.AgentError, ex.FailureDetails.ErrorMessage));
                    }
                }

                // What the agent did on its way (a model's message, a tool it ran) is in the log before its decision takes effect.
                if (decision.Notes is { Count: > 0 } notes && decision.Kind != AgentDecisionKind.Work
                    && await WriteAsync(new RunWrite(++_writes, RunWriteKind.Progress, Step: step + 1, Notes: notes)) == WriteOutcome.Ended)
                {
                    return "ended";
                }

                switch (decision.Kind)
                {
                    case AgentDecisionKind.Work:
                        var progress = new RunWrite(++_writes, RunWriteKind.Progress, Step: step + 1, Tool: decision.Tool, Summary: decision.Summary, Notes: decision.Notes);
                        if (await WriteAsync(progress) == WriteOutcome.Ended)
                        {
                            return "ended";
                        }

                        if (decision.WorkSeconds > 0 && await WorkAsync(TimeSpan.FromSeconds(decision.WorkSeconds)))
                        {
                            return "cancelled";
                        }

                        break;

                    case AgentDecisionKind.AskHuman:
                        var request = decision.Request ?? throw new InvalidOperationException("The agent asked a human without a request.");
                        var signal = await AwaitHumanAsync(request);
                        if (signal is null)
                        {
                            return "ended";
                        }

                        if (signal.Action == SignalActions.Reject)
                        {
                            return await CompleteAsync(RunEnding.Failed(RunReasonCodes.Rejected, RejectReason(signal)));
                        }

                        answers.Add(new HumanAnswer(signal.RequestId, request.InputKind, signal.Action, signal.PayloadJson, signal.ApprovedActionJson, signal.Actor, request.Prompt));
                        break;

                    case AgentDecisionKind.Wait:
                        // The agent asks to be asked again later (an HTTP worker's long work): a durable timer, no event.
                        if (await WorkAsync(TimeSpan.FromSeconds(Math.Max(1, decision.WorkSeconds))))
                        {
                            return "cancelled";
                        }

                        break;

                    case AgentDecisionKind.Finish:
                        return await CompleteAsync(RunEnding.Succeeded(decision.OutputJson ?? "{}", decision.OutputRedacted));

                    case AgentDecisionKind.Fail:
                        return await CompleteAsync(RunEnding.Failed(decision.ReasonCode ?? RunReasonCodes.AgentFailed, decision.Reason));

                    default:
                        throw new InvalidOperationException($"Unknown agent decision {decision.Kind}.");
                }
            }
        }

        /// <summary>Ends the run failed with engine_error; if even that cannot be written, the repairer will.</summary>
        public async Task<string> FailForEngineAsync(string reason)
        {
            LogEngineFailure(context.CreateReplaySafeLogger(nameof(RunOrchestration)), input.RunId, reason);
            try
            {
                var ending = RunEnding.Failed(RunReasonCodes.EngineError, $"The run's state could not be written: {reason}");
                await context.CallActivityAsync<WriteOutcome>(
                    nameof(RunActivities.WriteRun), new WriteRunInput(input.TenantId, input.RunId, new RunWrite(++_writes, RunWriteKind.Complete, Ending: ending)), WriteRetry);
                return "engine_error";
            }
            catch (TaskFailedException)
            {
                return "engine_error_unwritten";
            }
        }

        private async Task<string> CompleteAsync(RunEnding ending) =>
            await WriteAsync(new RunWrite(++_writes, RunWriteKind.Complete, Ending: ending)) == WriteOutcome.Ended ? "ended" : ending.Status;

        private async Task<WriteOutcome> WriteAsync(RunWrite write)
        {
            try
            {
                return await context.CallActivityAsync<WriteOutcome>(nameof(RunActivities.WriteRun), new WriteRunInput(input.TenantId, input.RunId, write), WriteRetry);
            }
            catch (TaskFailedException ex)
            {
                throw new RunWriteFailedException(ex.FailureDetails.ErrorMessage);
            }
        }

        /// <summary>Lets time pass for a long piece of work. True when a cancel ended the wait.</summary>
        private async Task<bool> WorkAsync(TimeSpan duration)
        {
            using var timerCancellation = new CancellationTokenSource();
            var done = context.CreateTimer(duration, timerCancellation.Token);
            if (await Task.WhenAny(done, _cancel) == _cancel)
            {
                timerCancellation.Cancel();
                return true;
            }

            return false;
        }

        /// <summary>
        /// Opens a request and waits for its answer; null when the run ended instead (timeout, cancel). Besides the answer and
        /// a cancel, two timers run: the deadline (the record and the clock decide it, through <c>ExpireRequest</c>) and the
        /// next reminder (written through <c>RemindHuman</c>). A moved deadline (an extension) plans both again.
        /// </summary>
        private async Task<SignalEvent?> AwaitHumanAsync(HumanRequestSpec spec)
        {
            var timeoutSeconds = spec.TimeoutSeconds ?? input.SignalTimeoutSeconds;
            var request = new PendingRequest(
                RequestId: context.NewGuid().ToString("D"),
                InputKind: spec.InputKind,
                Prompt: spec.Prompt,
                AllowedActions: spec.AllowedActions ?? InputKinds.DefaultActionsFor(spec.InputKind),
                ExpiresAt: new DateTimeOffset(context.CurrentUtcDateTime.AddSeconds(timeoutSeconds), TimeSpan.Zero),
                ProposedActionJson: spec.ProposedActionJson,
                ResponseSchemaJson: spec.ResponseSchemaJson,
                AllowEdits: spec.AllowEdits,
                TimeoutSeconds: timeoutSeconds,
                Reminders: spec.Reminders ?? []);
            if (await WriteAsync(new RunWrite(++_writes, RunWriteKind.OpenRequest, Request: request, RequestRedacted: spec.ProposedActionRedacted)) == WriteOutcome.Ended)
            {
                return null;
            }

            var expiresAt = request.ExpiresAt.UtcDateTime;
            var deadline = expiresAt;
            var sent = new HashSet<int>();
            var plannedFrom = context.CurrentUtcDateTime;
#pragma warning disable DURABLE0011 // Each turn consumes one raised event or one timer; history grows only with what clients send.
            while (true)
            {
                // The next reminder: the largest lead time not yet sent that falls after the deadline was set (a reminder whose
                // time came while the orchestration was busy goes out late rather than not at all; one that would have come
                // before the request opened or its deadline moved is skipped).
                int? reminder = request.Reminders!.Where(r => !sent.Contains(r) && expiresAt.AddSeconds(-r) > plannedFrom).Select(r => (int?)r).FirstOrDefault();
                using var timers = new CancellationTokenSource();
                var deadlineTimer = context.CreateTimer(deadline, timers.Token);
                var reminderTimer = reminder is { } lead ? context.CreateTimer(expiresAt.AddSeconds(-lead), timers.Token) : null;
                Task winner;
                while (true)
                {
                    _signal ??= context.WaitForExternalEvent<SignalEvent>(RunEventNames.Signal);
                    _moved ??= context.WaitForExternalEvent<DeadlineMovedEvent>(RunEventNames.DeadlineMoved);
                    Task[] waits = reminderTimer is null ? [_signal, deadlineTimer, _cancel, _moved] : [_signal, deadlineTimer, _cancel, _moved, reminderTimer];
                    winner = await Task.WhenAny(waits);
                    if (winner != _signal)
                    {
                        break;
                    }

                    var signal = await _signal;
                    _signal = null;
                    if (signal.RequestId == request.RequestId)
                    {
                        timers.Cancel();
                        return signal;
                    }

                    // An answer to an earlier question, or one raised twice: discard it, keep waiting on the same timers.
                }

                timers.Cancel(); // the timers that did not fire
                if (winner == _cancel)
                {
                    return null;
                }

                if (winner == _moved)
                {
                    var update = await _moved;
                    _moved = null;
                    if (update.RequestId == request.RequestId)
                    {
                        (expiresAt, deadline, plannedFrom) = (update.ExpiresAt.UtcDateTime, update.ExpiresAt.UtcDateTime, context.CurrentUtcDateTime);
                        sent.Clear();
                    }

                    continue;
                }

                if (winner == reminderTimer)
                {
                    var reminded = await CallAsync<RemindOutcome>(
                        nameof(RunActivities.RemindHuman), new RemindInput(input.TenantId, input.RunId, request.RequestId, reminder!.Value));
                    if (reminded.Verdict != RemindVerdict.NotYet)
                    {
                        sent.Add(reminder.Value);
                    }

                    if (reminded.ExpiresAt is { } current && current.UtcDateTime != expiresAt)
                    {
                        (expiresAt, deadline, plannedFrom) = (current.UtcDateTime, current.UtcDateTime, context.CurrentUtcDateTime);
                        sent.Clear();
                    }

                    continue;
                }

                // The deadline timer fired. The clock and the record decide: a signal that got there first wins; a timer that
                // fired early, or a deadline that moved, waits out the rest.
                var expiry = await CallAsync<ExpireOutcome>(
                    nameof(RunActivities.ExpireRequest), new ExpireRequestInput(input.TenantId, input.RunId, request.RequestId));
                switch (expiry.Verdict)
                {
                    case ExpireVerdict.Answered:
                        return SignalEvent.From(expiry.Answer ?? throw new InvalidOperationException("An answered request has no answer."));
                    case ExpireVerdict.NotYet:
                        var current = expiry.ExpiresAt!.Value.UtcDateTime;
                        if (current != expiresAt)
                        {
                            (expiresAt, sent, plannedFrom) = (current, [], context.CurrentUtcDateTime);
                        }

                        var next = current + TimerSlack;
                        deadline = next > context.CurrentUtcDateTime ? next : context.CurrentUtcDateTime + TimerSlack;
                        continue;
                    default:
                        return null; // expired or ended otherwise
                }
            }
#pragma warning restore DURABLE0011
        }

        /// <summary>An activity that writes to the run; failing past its retries, it sends the run down the engine-failure path.</summary>
        private async Task<T> CallAsync<T>(string name, object activityInput)
        {
            try
            {
                return await context.CallActivityAsync<T>(name, activityInput, WriteRetry);
            }
            catch (TaskFailedException ex)
            {
                throw new RunWriteFailedException(ex.FailureDetails.ErrorMessage);
            }
        }
    }
}
