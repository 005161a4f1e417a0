using AgentRuns.Functions.Agents;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Storage;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Activities;

/// <summary>
/// The run orchestration's side effects. Activities run at least once: a numbered write is applied once (the record
/// remembers the last one), the deadline is decided by the record and the clock, and the agent is asked again.
/// </summary>
public sealed class RunActivities(RunStore runs, AgentCatalog agents)
{
    /// <summary>Applies one write of the orchestration to its run (record and events together).</summary>
    [Function(nameof(WriteRun))]
    public Task<WriteOutcome> WriteRun([ActivityTrigger] WriteRunInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        return runs.ApplyAsync(input.TenantId, input.RunId, (run, now) => RunTransitions.Apply(run, input.Write, now), CancellationToken.None);
    }

    /// <summary>
    /// Asks the run's agent for its next step, unless the run has ended. A run can end without its orchestration knowing (a
    /// cancel whose raise was lost: the process died between its write and the raise); the orchestration finds out at its next
    /// write, but an agent's step acts before that (a model agent runs tools, an HTTP worker is called), and a worker that answers
    /// <c>wait</c> makes steps that write nothing, so it would be called on and on. One point read per step of the agents that act
    /// on the world; the scripted agent's steps do nothing but write.
    /// </summary>
    /// <remarks>
    /// A step that fails because storage cannot be reached (the agent's own tables, or the run's) fails with
    /// <see cref="StepStorageUnavailableException"/>, so that the orchestration waits out the outage rather than blame the agent.
    /// Whether storage is out is asked of storage itself (a read of the run) when the failure looks like an outage: a worker
    /// or a tool that throws a network error while storage answers is the step's own failure.
    /// </remarks>
    [Function(nameof(InvokeAgent))]
    public async Task<AgentDecision> InvokeAgent([ActivityTrigger] AgentStepInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            if (input.Agent != AgentNames.Scripted && await runs.GetAsync(input.TenantId, input.RunId, cancellationToken) is { IsTerminal: true } ended)
            {
                // Its write is refused (the run ended): the orchestration stops there.
                return AgentDecision.Fail(Model.RunReasonCodes.AgentError, $"The run has ended ({ended.Status}); its agent is not asked again.");
            }

            return await agents.Resolve(input.Agent).DecideAsync(input, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && StorageFailures.IsUnavailable(ex))
        {
            if (await StorageAnswersAsync(input, cancellationToken))
            {
                throw;
            }

            throw new StepStorageUnavailableException($"Step {input.StepIndex} of run {input.RunId} could not reach storage: {ex.Message}", ex);
        }
    }

    private async Task<bool> StorageAnswersAsync(AgentStepInput input, CancellationToken cancellationToken)
    {
        try
        {
            await runs.GetAsync(input.TenantId, input.RunId, cancellationToken);
            return true;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && StorageFailures.IsUnavailable(ex))
        {
            return false;
        }
    }

    /// <summary>A reminder of a request is due: appended once, only while the request is unanswered.</summary>
    [Function(nameof(RemindHuman))]
    public Task<RemindOutcome> RemindHuman([ActivityTrigger] RemindInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        return runs.ApplyAsync(input.TenantId, input.RunId, (run, now) => RunTransitions.Remind(run, input.RequestId, input.SecondsBefore, now), CancellationToken.None);
    }

    /// <summary>The deadline of a request came: the record and the clock decide between the timeout and a signal.</summary>
    [Function(nameof(ExpireRequest))]
    public Task<ExpireOutcome> ExpireRequest([ActivityTrigger] ExpireRequestInput input, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        return runs.ApplyAsync(input.TenantId, input.RunId, (run, now) => RunTransitions.Expire(run, input.RequestId, now), CancellationToken.None);
    }
}
