using System.Text.Json;
using System.Text.Json.Nodes;
using AgentRuns.Functions.Activities;
using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Model;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace AgentRuns.Functions.Orchestrations;

/// <summary>
/// The run: one orchestration per run, instance id = run id. It asks the agent for the next step, records every
/// step as events (it alone numbers them, so seq is deterministic under replay), and waits for humans by racing
/// <c>WaitForExternalEvent</c> against a durable timer. It does no I/O itself: every write is an activity.
/// </summary>
public static class RunOrchestration
{
    internal static readonly TaskOptions Retry = TaskOptions.FromRetryPolicy(new RetryPolicy(
        maxNumberOfAttempts: 5, firstRetryInterval: TimeSpan.FromSeconds(1), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(30)));

    [Function(nameof(RunOrchestration))]
    public static Task<string> Run([OrchestrationTrigger] TaskOrchestrationContext context) =>
        RunAsync(context, context.GetInput<RunOrchestrationInput>()!);

    /// <summary>The body of the orchestration; returns the run's final status.</summary>
    public static async Task<string> RunAsync(TaskOrchestrationContext context, RunOrchestrationInput input)
    {
        var run = new RunJournal(context, input);
        await run.RecordAsync(
            new RunProjection(RunStatus.Running),
            (RunEventTypes.Created, new JsonObject
            {
                ["input"] = JsonNode.Parse(input.InputJson),
                ["metadata"] = input.MetadataJson is null ? null : JsonNode.Parse(input.MetadataJson),
            }),
            (RunEventTypes.Started, new JsonObject()));

        var humanInputs = new List<string>();
        for (var step = 0; ; step++)
        {
            if (run.CancelRequested)
            {
                return await run.CancelAsync(RunReasonCodes.CancelledByUser);
            }

            AgentDecision decision;
            try
            {
                decision = await context.CallActivityAsync<AgentDecision>(
                    nameof(RunActivities.InvokeAgent), new AgentStepInput(input.RunId, input.InputJson, step, [.. humanInputs]), Retry);
            }
            catch (TaskFailedException ex)
            {
                return await run.FinishAsync(RunStatus.Failed, error: new RunError(RunReasonCodes.AgentError, ex.FailureDetails.ErrorMessage));
            }

            switch (decision.Kind)
            {
                case AgentDecisionKind.Work:
                    await run.RecordAsync(
                        new RunProjection(RunStatus.Running),
                        (RunEventTypes.Progress, new JsonObject { ["step"] = step + 1, ["tool"] = decision.Tool, ["summary"] = decision.Summary }));
                    if (decision.WorkSeconds > 0)
                    {
                        await run.WorkAsync(TimeSpan.FromSeconds(decision.WorkSeconds));
                    }

                    break;

                case AgentDecisionKind.AskHuman:
                    var answer = await run.AwaitHumanAsync(decision);
                    switch (answer.Outcome)
                    {
                        case HumanOutcome.TimedOut:
                            return await run.CancelAsync(RunReasonCodes.SignalTimeout);
                        case HumanOutcome.Cancelled:
                            return await run.CancelAsync(RunReasonCodes.CancelledByUser);
                    }

                    var signal = answer.Signal!;
                    if (signal.Action == SignalActions.Reject)
                    {
                        return await run.FinishAsync(RunStatus.Failed, error: new RunError(RunReasonCodes.Rejected, RejectReason(signal)));
                    }

                    if (signal.Action == SignalActions.SubmitInput && signal.PayloadJson is not null)
                    {
                        humanInputs.Add(signal.PayloadJson);
                    }

                    break;

                case AgentDecisionKind.Finish:
                    return await run.FinishAsync(RunStatus.Succeeded, outputJson: decision.OutputJson ?? "{}", redacted: decision.OutputRedacted);

                case AgentDecisionKind.Fail:
                    return await run.FinishAsync(
                        RunStatus.Failed, error: new RunError(decision.ReasonCode ?? RunReasonCodes.AgentFailed, decision.Reason));

                default:
                    throw new InvalidOperationException($"Unknown agent decision {decision.Kind}.");
            }
        }
    }

    private static string RejectReason(SignalEvent signal)
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

    internal enum HumanOutcome
    {
        Answered,
        TimedOut,
        Cancelled,
    }

    internal sealed record HumanAnswer(HumanOutcome Outcome, SignalEvent? Signal = null);

    /// <summary>The orchestration's running state: the next seq, and the outstanding waits for external events.</summary>
    private sealed class RunJournal(TaskOrchestrationContext context, RunOrchestrationInput input)
    {
        private readonly Task<CancelEvent> _cancel = context.WaitForExternalEvent<CancelEvent>(RunEventNames.Cancel);

        // One outstanding signal wait at a time, kept across human waits: a new waiter is created only after the
        // previous one received an event, so no abandoned waiter can swallow a later signal.
        private Task<SignalEvent>? _signal;
        private long _seq;

        public bool CancelRequested => _cancel.IsCompleted;

        public Task RecordAsync(RunProjection projection, params (string Type, JsonObject Value)[] events) =>
            RecordAsync(projection, redacted: false, events);

        public Task RecordAsync(RunProjection projection, bool redacted, params (string Type, JsonObject Value)[] events)
        {
            var now = context.CurrentUtcDateTime;
            var records = events
                .Select(e => new EventRecord(++_seq, e.Type, new DateTimeOffset(now, TimeSpan.Zero), redacted, e.Value.ToJsonString()))
                .ToList();
            return context.CallActivityAsync(nameof(RunActivities.RecordEvents), new RecordEventsInput(input.TenantId, input.RunId, records, projection), Retry);
        }

        /// <summary>Lets time pass for a long piece of work; a cancel ends the wait early.</summary>
        public async Task WorkAsync(TimeSpan duration)
        {
            using var timerCancellation = new CancellationTokenSource();
            var done = context.CreateTimer(duration, timerCancellation.Token);
            if (await Task.WhenAny(done, _cancel) == _cancel)
            {
                timerCancellation.Cancel();
            }
        }

        public async Task<HumanAnswer> AwaitHumanAsync(AgentDecision decision)
        {
            var inputKind = decision.InputKind!;
            var expiresAt = context.CurrentUtcDateTime.AddSeconds(input.SignalTimeoutSeconds);
            var pending = new PendingInput(
                RequestId: context.NewGuid().ToString("D"),
                ReasonCode: InputKinds.ReasonCodeFor(inputKind),
                InputKind: inputKind,
                Prompt: decision.Prompt ?? "",
                AllowedActions: decision.AllowedActions ?? InputKinds.DefaultActionsFor(inputKind),
                ExpiresAt: new DateTimeOffset(expiresAt, TimeSpan.Zero),
                ProposedAction: ApiJson.ParseElementOrNull(decision.ProposedActionJson));
            var pendingJson = ApiJson.Serialize(pending);
            await RecordAsync(
                new RunProjection(RunStatus.AwaitingInput, pending.RequestId, pendingJson),
                (RunEventTypes.AwaitingInput, JsonNode.Parse(pendingJson)!.AsObject()));

            using var timerCancellation = new CancellationTokenSource();
            var deadline = context.CreateTimer(expiresAt, timerCancellation.Token);
#pragma warning disable DURABLE0011 // Each turn consumes one raised signal; history grows only with what clients send.
            while (true)
            {
                _signal ??= context.WaitForExternalEvent<SignalEvent>(RunEventNames.Signal);
                var winner = await Task.WhenAny(_signal, deadline, _cancel);
                if (winner == _signal)
                {
                    var signal = await _signal;
                    _signal = null;
                    if (signal.RequestId != pending.RequestId)
                    {
                        continue; // an answer to an earlier question: discard it, keep waiting against the same deadline
                    }

                    timerCancellation.Cancel();
                    return await RecordSignalAsync(signal);
                }

                if (winner == _cancel)
                {
                    timerCancellation.Cancel();
                    return new HumanAnswer(HumanOutcome.Cancelled);
                }

                // The deadline passed. The run record decides whether the timeout or a signal got there first.
                var expiry = await context.CallActivityAsync<ExpireRequestResult>(
                    nameof(RunActivities.ExpireRequest), new ExpireRequestInput(input.TenantId, input.RunId, pending.RequestId), Retry);
                return expiry.Outcome switch
                {
                    ExpireOutcome.Expired => new HumanAnswer(HumanOutcome.TimedOut),
                    ExpireOutcome.CancelRequested => new HumanAnswer(HumanOutcome.Cancelled),
                    _ => await RecordSignalAsync(expiry.Signal ?? throw new InvalidOperationException("An answered request has no accepted signal.")),
                };
            }
#pragma warning restore DURABLE0011
        }

        public async Task<string> FinishAsync(string status, string? outputJson = null, RunError? error = null, bool redacted = false)
        {
            var errorJson = error is null ? null : ApiJson.Serialize(error);
            var claimed = await context.CallActivityAsync<bool>(
                nameof(RunActivities.ClaimCompletion), new ClaimCompletionInput(input.TenantId, input.RunId, status, outputJson, errorJson), Retry);
            if (!claimed)
            {
                return await CancelAsync(RunReasonCodes.CancelledByUser);
            }

            var value = status == RunStatus.Succeeded
                ? new JsonObject { ["output"] = JsonNode.Parse(outputJson ?? "{}") }
                : new JsonObject { ["reason_code"] = error?.ReasonCode, ["reason"] = error?.Reason };
            await RecordAsync(
                new RunProjection(status, OutputJson: outputJson, ErrorJson: errorJson),
                redacted,
                (status == RunStatus.Succeeded ? RunEventTypes.Succeeded : RunEventTypes.Failed, value));
            return status;
        }

        public async Task<string> CancelAsync(string reasonCode)
        {
            var reason = reasonCode == RunReasonCodes.SignalTimeout
                ? "No signal arrived before the request expired."
                : "Cancelled by the user.";
            await RecordAsync(
                new RunProjection(RunStatus.Cancelled, ErrorJson: ApiJson.Serialize(new RunError(reasonCode, reason))),
                (RunEventTypes.Cancelled, new JsonObject { ["reason_code"] = reasonCode }));
            return RunStatus.Cancelled;
        }

        private async Task<HumanAnswer> RecordSignalAsync(SignalEvent signal)
        {
            // The log gets the masked payload; the run itself goes on with what the human sent.
            var logged = signal.LoggedPayloadJson ?? signal.PayloadJson;
            await RecordAsync(
                new RunProjection(RunStatus.Running),
                signal.PayloadRedacted,
                (RunEventTypes.SignalReceived, new JsonObject
                {
                    ["request_id"] = signal.RequestId,
                    ["action"] = signal.Action,
                    ["payload"] = logged is null ? null : JsonNode.Parse(logged),
                }));
            return new HumanAnswer(HumanOutcome.Answered, signal);
        }
    }
}
