using System.ComponentModel.DataAnnotations;

namespace AgentRuns.Functions.Runs;

/// <summary>How the repairer watches unfinished runs. Bound from the <c>Repair</c> section (<c>Repair__SignalGraceSeconds</c>…).</summary>
public sealed class RepairOptions
{
    public const string SectionName = "Repair";

    /// <summary>A new run whose orchestration has not started after this long is started (or, after three tries, failed).</summary>
    [Range(5, 3600)]
    public int StartGraceSeconds { get; set; } = 60;

    /// <summary>An accepted answer the orchestration has not taken in after this long is raised to it again.</summary>
    [Range(5, 3600)]
    public int SignalGraceSeconds { get; set; } = 30;

    /// <summary>A request still open this long after its deadline is expired by the repairer (its timer was lost).</summary>
    [Range(5, 3600)]
    public int ExpiryGraceSeconds { get; set; } = 60;

    /// <summary>The longest a healthy unfinished run goes without a look: the bound on how long a dead orchestration goes unnoticed.</summary>
    [Range(30, 24 * 3600)]
    public int MaxCheckIntervalSeconds { get; set; } = 900;

    /// <summary>Runs looked at per pass at most.</summary>
    [Range(1, 1000)]
    public int BatchSize { get; set; } = 100;

    /// <summary>
    /// How often a host without timer functions (the local host) runs a repair pass. In Azure the <c>RepairRuns</c> timer
    /// function runs once a minute.
    /// </summary>
    [Range(1, 3600)]
    public int IntervalSeconds { get; set; } = 60;
}
