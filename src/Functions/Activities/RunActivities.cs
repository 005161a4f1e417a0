using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Streaming;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Activities;

/// <summary>
/// The run orchestration's side effects. Activities run at least once, so each is idempotent: appends verify what an
/// earlier attempt wrote, projections only move forward, and the conditional writes re-read and decide again.
/// </summary>
public sealed class RunActivities(EventLog events, RunStore runs, IAgent agent, RunEventNotifier notifier)
{
    /// <summary>
    /// Projects the run record to the state after the events, then appends them. In that order, a client that reacts to
    /// an event (a signal on <c>run.awaiting_input</c>) always finds the record already in the state the event announces.
    /// </summary>
    [Function(nameof(RecordEvents))]
    public async Task RecordEvents([ActivityTrigger] RecordEventsInput input, CancellationToken cancellationToken)
    {
        if (input.Events.Count == 0)
        {
            return;
        }

        await runs.ApplyProjectionAsync(input.TenantId, input.RunId, input.Projection, input.Events[^1].Seq, cancellationToken);
        await events.AppendAsync(input.RunId, input.Events, cancellationToken);
        notifier.Notify(input.RunId);
    }

    /// <summary>Asks the agent for the run's next step.</summary>
    [Function(nameof(InvokeAgent))]
    public Task<AgentDecision> InvokeAgent([ActivityTrigger] AgentStepInput input, CancellationToken cancellationToken) =>
        agent.DecideAsync(input, cancellationToken);

    /// <summary>The deadline of a request passed: the run record decides between the timeout and a signal.</summary>
    [Function(nameof(ExpireRequest))]
    public Task<ExpireRequestResult> ExpireRequest([ActivityTrigger] ExpireRequestInput input, CancellationToken cancellationToken) =>
        runs.ExpireRequestAsync(input.TenantId, input.RunId, input.RequestId, cancellationToken);

    /// <summary>Moves the run to a terminal status unless a cancel was requested first.</summary>
    [Function(nameof(ClaimCompletion))]
    public Task<bool> ClaimCompletion([ActivityTrigger] ClaimCompletionInput input, CancellationToken cancellationToken) =>
        runs.ClaimCompletionAsync(input, cancellationToken);
}
