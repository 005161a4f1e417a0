using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Storage;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Activities;

/// <summary>
/// The run orchestration's side effects. Activities run at least once, so each is idempotent: appends verify what an
/// earlier attempt wrote, projections only move forward, and the conditional writes re-read and decide again.
/// </summary>
public sealed class RunActivities(EventLog events, RunStore runs, IAgent agent)
{
    /// <summary>Appends the events, then projects the run record to the state after them.</summary>
    [Function(nameof(RecordEvents))]
    public async Task RecordEvents([ActivityTrigger] RecordEventsInput input, CancellationToken cancellationToken)
    {
        if (input.Events.Count == 0)
        {
            return;
        }

        await events.AppendAsync(input.RunId, input.Events, cancellationToken);
        await runs.ApplyProjectionAsync(input.TenantId, input.RunId, input.Projection, input.Events[^1].Seq, cancellationToken);
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
