using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Storage;

namespace AgentRuns.Functions.Runs;

public enum RepairKind
{
    /// <summary>Nothing wrong: look again at <see cref="RepairAction.CheckAt"/>.</summary>
    Reschedule,

    /// <summary>The run ended (or never came to be): take it out of the index.</summary>
    Release,

    /// <summary>The run is queued and has no orchestration: start it.</summary>
    Start,

    /// <summary>An accepted answer was not taken in: raise it again (the orchestration discards duplicates).</summary>
    RaiseSignal,

    /// <summary>A request is past its deadline and its timer did not act: expire it.</summary>
    Expire,

    /// <summary>The run's orchestration is gone (failed, terminated, missing) or never started: end the run with engine_error.</summary>
    FailForEngine,

    /// <summary>The run ended but its orchestration lingers (a long timer of a cancelled run): terminate it.</summary>
    Terminate,
}

public sealed record RepairAction(RepairKind Kind, DateTimeOffset? CheckAt = null, string? Reason = null);

/// <summary>
/// What the repairer does with an unfinished run, as a pure function of its record, its orchestration's state, its index
/// row and the time. The repairer (<see cref="RunRepairer"/>) only reads, calls this and carries the action out; every
/// change of the run goes through <see cref="RunTransitions"/>.
/// </summary>
public static class RunRepairs
{
    /// <summary>An index row without a record is left this long (a create that is still on its way) before it is dropped.</summary>
    public static readonly TimeSpan OrphanGrace = TimeSpan.FromMinutes(10);

    /// <summary>How many times a queued run is started before it is given up.</summary>
    public const int MaxStarts = 3;

    public static RepairAction Decide(RunRecord? run, EngineState engine, string? engineDetail, OpenRun open, DateTimeOffset now, RepairOptions o)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentNullException.ThrowIfNull(o);
        var startGrace = TimeSpan.FromSeconds(o.StartGraceSeconds);
        if (run is null)
        {
            return now - open.CreatedAt >= OrphanGrace ? new(RepairKind.Release) : new(RepairKind.Reschedule, now + startGrace);
        }

        if (run.IsTerminal)
        {
            // An orchestration finishes its last step right after its run's last write: give it the time to.
            return engine == EngineState.Alive
                ? now - run.UpdatedAt >= TimeSpan.FromSeconds(o.SignalGraceSeconds) ? new(RepairKind.Terminate, Reason: "The run has ended.") : new(RepairKind.Reschedule, now + startGrace)
                : new(RepairKind.Release);
        }

        if (run.Status == Model.RunStatus.Queued)
        {
            return engine switch
            {
                EngineState.Missing when open.Checks < MaxStarts => new(RepairKind.Start),
                EngineState.Missing => new(RepairKind.FailForEngine, Reason: $"The run's orchestration could not be started ({MaxStarts} tries)."),
                EngineState.Gone => new(RepairKind.FailForEngine, Reason: $"The run's orchestration ended before the run started ({engineDetail})."),
                _ => new(RepairKind.Reschedule, now + Backoff(open.Checks, o)),
            };
        }

        if (engine != EngineState.Alive)
        {
            return new(RepairKind.FailForEngine, Reason: engine == EngineState.Missing
                ? "The run's orchestration is missing."
                : $"The run's orchestration is {engineDetail}.");
        }

        if (run.Pending is { } pending && now >= pending.ExpiresAt + TimeSpan.FromSeconds(o.ExpiryGraceSeconds))
        {
            return new(RepairKind.Expire, Reason: pending.RequestId);
        }

        var signalGrace = TimeSpan.FromSeconds(o.SignalGraceSeconds);
        if (run.LastAnswer is { Consumed: false } answer && now - answer.AcceptedAt >= signalGrace)
        {
            return new(RepairKind.RaiseSignal, now + signalGrace);
        }

        var next = now + Backoff(open.Checks, o);
        if (run.Pending is { } waiting)
        {
            var afterDeadline = waiting.ExpiresAt + TimeSpan.FromSeconds(o.ExpiryGraceSeconds);
            next = afterDeadline < now + TimeSpan.FromSeconds(o.MaxCheckIntervalSeconds) ? afterDeadline : now + TimeSpan.FromSeconds(o.MaxCheckIntervalSeconds);
        }

        if (run.LastAnswer is { Consumed: false } unconsumed && unconsumed.AcceptedAt + signalGrace < next)
        {
            next = unconsumed.AcceptedAt + signalGrace;
        }

        return new(RepairKind.Reschedule, next);
    }

    /// <summary>Start grace, doubling with every healthy look, up to the maximum interval.</summary>
    private static TimeSpan Backoff(int checks, RepairOptions o) =>
        TimeSpan.FromSeconds(Math.Min(o.MaxCheckIntervalSeconds, o.StartGraceSeconds * Math.Pow(2, Math.Min(checks, 16))));
}
