using System.ComponentModel.DataAnnotations;

namespace AgentRuns.Functions;

/// <summary>Behaviour of runs. Bound from the <c>Runs</c> section (<c>Runs__DefaultSignalTimeoutSeconds</c> in app settings).</summary>
public sealed class RunOptions
{
    public const string SectionName = "Runs";

    /// <summary>How long a run waits for a human when the create request does not say.</summary>
    [Range(1, int.MaxValue)]
    public int DefaultSignalTimeoutSeconds { get; set; } = 3600;

    /// <summary>The largest <c>signal_timeout_seconds</c> a client may ask for.</summary>
    [Range(1, int.MaxValue)]
    public int MaxSignalTimeoutSeconds { get; set; } = 7 * 24 * 3600;

    /// <summary>
    /// How long the Durable history of a finished run is kept, counted from the run's creation. It holds the run's raw
    /// input and answers (unmasked); the API serves runs and events from the Runs table, which this does not touch.
    /// </summary>
    [Range(0, 3650)]
    public int HistoryRetentionDays { get; set; } = 7;
}
