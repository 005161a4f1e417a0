using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Runs;

/// <summary>What one repair pass did.</summary>
public sealed record RepairPass(int Looked, int Healthy, int Released, int Started, int Raised, int Expired, int Failed, int Terminated, int Errors);

/// <summary>
/// Closes the gaps that at-least-once machinery leaves, so that every run ends and every accepted answer lands: looks at the
/// unfinished runs that are due (<see cref="OpenRunIndex"/>), decides with <see cref="RunRepairs.Decide"/>, and acts. Runs as
/// the <c>RepairRuns</c> timer function in Azure and on a schedule in the local host. When nothing is due, a pass is two key-range
/// queries that read no row, however many runs wait for a later look.
/// </summary>
public sealed partial class RunRepairer(
    RunStore runs, OpenRunIndex index, IOptions<RepairOptions> options, TimeProvider time, ILogger<RunRepairer> logger)
{
    /// <param name="only">Limits the pass to some runs (an operator repairing one tenant; tests that share a task hub).</param>
    public async Task<RepairPass> RunOnceAsync(IRunEngine engine, CancellationToken cancellationToken, Func<OpenRun, bool>? only = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var o = options.Value;
        var due = (await index.DueAsync(time.GetUtcNow(), o.BatchSize, cancellationToken)).Where(r => only?.Invoke(r) ?? true).ToList();
        var counts = new Dictionary<RepairKind, int>();
        var errors = 0;
        foreach (var open in due)
        {
            try
            {
                var kind = await RepairAsync(open, engine, o, cancellationToken);
                counts[kind] = counts.GetValueOrDefault(kind) + 1;
            }
#pragma warning disable CA1031 // One run's failure must not stop the pass; it is due again next time.
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
            {
                errors++;
                LogRepairFailed(logger, ex, open.RunId);
            }
        }

        var pass = new RepairPass(
            due.Count, counts.GetValueOrDefault(RepairKind.Reschedule), counts.GetValueOrDefault(RepairKind.Release),
            counts.GetValueOrDefault(RepairKind.Start), counts.GetValueOrDefault(RepairKind.RaiseSignal), counts.GetValueOrDefault(RepairKind.Expire),
            counts.GetValueOrDefault(RepairKind.FailForEngine), counts.GetValueOrDefault(RepairKind.Terminate), errors);
        if (pass.Looked > pass.Healthy)
        {
            LogPass(logger, pass.Looked, pass.Released, pass.Started, pass.Raised, pass.Expired, pass.Failed, pass.Terminated, pass.Errors);
        }

        return pass;
    }

    private async Task<RepairKind> RepairAsync(OpenRun open, IRunEngine engine, RepairOptions o, CancellationToken cancellationToken)
    {
        var run = await runs.GetAsync(open.TenantId, open.RunId, cancellationToken);
        var (state, detail) = run is null ? (EngineState.Missing, null) : await engine.GetStateAsync(open.RunId, cancellationToken);
        var now = time.GetUtcNow();
        var action = RunRepairs.Decide(run, state, detail, open, now, o);
        switch (action.Kind)
        {
            case RepairKind.Reschedule:
                await index.RescheduleAsync(open, action.CheckAt!.Value, cancellationToken);
                break;

            case RepairKind.Release:
                await index.ReleaseAsync(open.TenantId, open.RunId, cancellationToken);
                break;

            case RepairKind.Start:
                LogAction(logger, open.RunId, "starting its orchestration");
                await engine.StartAsync(new RunOrchestrationInput(run!.TenantId, run.RunId, run.InputJson, run.SignalTimeoutSeconds, run.Agent));
                await index.RescheduleAsync(open, now.AddSeconds(o.StartGraceSeconds), cancellationToken);
                break;

            case RepairKind.RaiseSignal:
                LogAction(logger, open.RunId, "raising its accepted answer again");
                await engine.RaiseSignalAsync(run!.RunId, SignalEvent.From(run.LastAnswer!));
                await index.RescheduleAsync(open, action.CheckAt!.Value, cancellationToken);
                break;

            case RepairKind.Expire:
                LogAction(logger, open.RunId, "expiring a request whose timer did not fire");
                await runs.ApplyAsync(open.TenantId, open.RunId, (r, t) => RunTransitions.Expire(r, action.Reason!, t), cancellationToken);
                await TerminateQuietlyAsync(engine, open.RunId, "The run's request expired.", cancellationToken);
                break;

            case RepairKind.FailForEngine:
                LogAction(logger, open.RunId, "ending it with engine_error: " + action.Reason);
                await runs.ApplyAsync(open.TenantId, open.RunId, (r, t) => RunTransitions.FailForEngine(r, action.Reason!, t), cancellationToken);
                if (state == EngineState.Alive)
                {
                    await TerminateQuietlyAsync(engine, open.RunId, action.Reason!, cancellationToken);
                }

                break;

            case RepairKind.Terminate:
                await TerminateQuietlyAsync(engine, open.RunId, action.Reason!, cancellationToken);
                await index.ReleaseAsync(open.TenantId, open.RunId, cancellationToken);
                break;
        }

        return action.Kind;
    }

    private async Task TerminateQuietlyAsync(IRunEngine engine, string runId, string reason, CancellationToken cancellationToken)
    {
        try
        {
            await engine.TerminateAsync(runId, reason, cancellationToken);
        }
#pragma warning disable CA1031 // The run itself is settled; a lingering orchestration only waits on its timer.
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
        {
            LogTerminateFailed(logger, ex, runId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Repair of run {RunId}: {Action}")]
    private static partial void LogAction(ILogger logger, string runId, string action);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Repair pass: looked at {Looked}; released {Released}, started {Started}, raised {Raised}, expired {Expired}, failed {Failed}, terminated {Terminated}, errors {Errors}")]
    private static partial void LogPass(ILogger logger, int looked, int released, int started, int raised, int expired, int failed, int terminated, int errors);

    [LoggerMessage(Level = LogLevel.Error, Message = "Repair of run {RunId} failed; it is looked at again in the next pass")]
    private static partial void LogRepairFailed(ILogger logger, Exception exception, string runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The orchestration of ended run {RunId} could not be terminated")]
    private static partial void LogTerminateFailed(ILogger logger, Exception exception, string runId);
}
