using Grpc.Core;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Functions.Orchestrations;

/// <summary>What the repairer needs to know of a run's orchestration.</summary>
public enum EngineState
{
    /// <summary>No such orchestration (never scheduled, or purged).</summary>
    Missing,

    /// <summary>Scheduled, running, or suspended: alive.</summary>
    Alive,

    /// <summary>Completed, failed or terminated: it will not write to its run again.</summary>
    Gone,
}

/// <summary>The orchestration side of a run, as the HTTP functions and the repairer use it. Behind an interface for unit tests.</summary>
public interface IRunEngine
{
    /// <summary>Schedules the run's orchestration. False when it could not (the repairer starts it later); true when it exists.</summary>
    Task<bool> StartAsync(RunOrchestrationInput input);

    /// <summary>Raises an accepted answer, retried briefly; false when it could not (the repairer raises it again).</summary>
    Task<bool> RaiseSignalAsync(string runId, SignalEvent signal);

    /// <summary>Tells the orchestration that its run was cancelled; false when it could not (it stops at its next write).</summary>
    Task<bool> RaiseCancelAsync(string runId, CancelEvent cancel);

    /// <summary>Tells the orchestration that a request's deadline moved; if this is lost, its deadline timer finds out.</summary>
    Task<bool> RaiseDeadlineMovedAsync(string runId, DeadlineMovedEvent moved);

    Task<(EngineState State, string? Detail)> GetStateAsync(string runId, CancellationToken cancellationToken = default);

    Task TerminateAsync(string runId, string reason, CancellationToken cancellationToken = default);

    /// <summary>Up to <paramref name="limit"/> runs whose orchestration finished and was created before <paramref name="createdBefore"/>.</summary>
    Task<IReadOnlyList<string>> ListFinishedAsync(DateTimeOffset createdBefore, int limit, CancellationToken cancellationToken = default);

    /// <summary>Deletes a finished run's Durable history; false when there was none (or the instance has not finished).</summary>
    Task<bool> PurgeAsync(string runId, CancellationToken cancellationToken = default);
}

/// <summary>
/// <see cref="IRunEngine"/> on a Durable Task client (the Functions binding, the local host's client, the test host's).
/// Raises and starts are not cancelled by the caller going away: they follow a decision already written.
/// </summary>
public sealed partial class RunEngine(DurableTaskClient durable, ILogger logger) : IRunEngine
{
    private static readonly TimeSpan[] RaiseBackoff = [TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1)];

    /// <summary>A run's orchestration is started once: an existing instance, running or finished, is never replaced.</summary>
    private static readonly OrchestrationRuntimeStatus[] NeverReplace =
    [
        OrchestrationRuntimeStatus.Pending, OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Suspended,
        OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated,
    ];

    private static readonly OrchestrationRuntimeStatus[] Finished =
        [OrchestrationRuntimeStatus.Completed, OrchestrationRuntimeStatus.Failed, OrchestrationRuntimeStatus.Terminated];

    public async Task<bool> StartAsync(RunOrchestrationInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        try
        {
            await durable.ScheduleNewOrchestrationInstanceAsync(
                nameof(RunOrchestration), input, new StartOrchestrationOptions(input.RunId).WithDedupeStatuses(NeverReplace), CancellationToken.None);
            return true;
        }
#pragma warning disable CA1031 // The run is queued in its record; the repairer starts it if this did not.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            if (await ExistsAsync(input.RunId))
            {
                return true; // a retried create, or the repairer, got there first
            }

            LogStartFailed(logger, ex, input.RunId);
            return false;
        }
    }

    public Task<bool> RaiseSignalAsync(string runId, SignalEvent signal) => RaiseAsync(runId, RunEventNames.Signal, signal);

    public Task<bool> RaiseCancelAsync(string runId, CancelEvent cancel) => RaiseAsync(runId, RunEventNames.Cancel, cancel);

    public Task<bool> RaiseDeadlineMovedAsync(string runId, DeadlineMovedEvent moved) => RaiseAsync(runId, RunEventNames.DeadlineMoved, moved);

    public async Task<(EngineState State, string? Detail)> GetStateAsync(string runId, CancellationToken cancellationToken = default)
    {
        var instance = await durable.GetInstanceAsync(runId, getInputsAndOutputs: false, cancellationToken);
        return instance?.RuntimeStatus switch
        {
            null => (EngineState.Missing, null),
            OrchestrationRuntimeStatus.Completed or OrchestrationRuntimeStatus.Failed or OrchestrationRuntimeStatus.Terminated =>
                (EngineState.Gone, instance.RuntimeStatus + (instance.FailureDetails is { } f ? $": {f.ErrorMessage}" : "")),
            _ => (EngineState.Alive, instance.RuntimeStatus.ToString()),
        };
    }

    public Task TerminateAsync(string runId, string reason, CancellationToken cancellationToken = default) =>
        durable.TerminateInstanceAsync(runId, new TerminateInstanceOptions { Output = reason }, cancellationToken);

    public async Task<IReadOnlyList<string>> ListFinishedAsync(DateTimeOffset createdBefore, int limit, CancellationToken cancellationToken = default)
    {
        // The statuses must be terminal ones: an empty list would list (and the caller purge) running instances too.
        var query = new OrchestrationQuery
        {
            CreatedFrom = DateTimeOffset.UnixEpoch,
            CreatedTo = createdBefore,
            Statuses = Finished,
            PageSize = Math.Min(limit, 100),
            FetchInputsAndOutputs = false,
        };
        var ids = new List<string>(limit);
        await foreach (var instance in durable.GetAllInstancesAsync(query).WithCancellation(cancellationToken))
        {
            ids.Add(instance.InstanceId);
            if (ids.Count >= limit)
            {
                break;
            }
        }

        return ids;
    }

    public async Task<bool> PurgeAsync(string runId, CancellationToken cancellationToken = default)
    {
        // Called with ids ListFinishedAsync returned: a run's orchestration is never started again once it finished.
        var result = await durable.PurgeInstanceAsync(runId, cancellation: cancellationToken);
        return result.PurgedInstanceCount > 0;
    }

    private async Task<bool> RaiseAsync<T>(string runId, string name, T payload)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await durable.RaiseEventAsync(runId, name, payload, CancellationToken.None);
                return true;
            }
#pragma warning disable CA1031 // The answer is in the run's record: the repairer raises it again.
            catch (RpcException ex) when (ex.StatusCode is StatusCode.NotFound or StatusCode.FailedPrecondition)
            {
                // The orchestration is gone or has finished: nobody is left to tell; retrying changes nothing.
                LogRaiseRefused(logger, name, runId, ex.Status.Detail);
                return false;
            }
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (attempt >= RaiseBackoff.Length)
                {
                    LogRaiseFailed(logger, ex, name, runId);
                    return false;
                }

                await Task.Delay(RaiseBackoff[attempt], CancellationToken.None);
            }
        }
    }

    private async Task<bool> ExistsAsync(string runId)
    {
        try
        {
            return await durable.GetInstanceAsync(runId, getInputsAndOutputs: false, CancellationToken.None) is not null;
        }
#pragma warning disable CA1031 // Only a hint for the log: false sends the run to the repairer, which checks again.
        catch (Exception)
#pragma warning restore CA1031
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId}: its orchestration could not be scheduled; the repairer will start it")]
    private static partial void LogStartFailed(ILogger logger, Exception exception, string runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Event {Name} could not be raised to run {RunId}; the repairer takes over")]
    private static partial void LogRaiseFailed(ILogger logger, Exception exception, string name, string runId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Event {Name} for run {RunId} was refused: {Detail}")]
    private static partial void LogRaiseRefused(ILogger logger, string name, string runId, string detail);
}
