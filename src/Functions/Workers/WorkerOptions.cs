using System.ComponentModel.DataAnnotations;

namespace AgentRuns.Functions.Workers;

/// <summary>
/// How HTTP workers are registered and called. Bound from the <c>Workers</c> section (<c>Workers__TimeoutSeconds</c>…). Which URLs
/// a worker may have is the webhooks' rule (<c>Webhooks:AllowLoopback</c> included): see <see cref="Webhooks.WebhookUrlPolicy"/>.
/// </summary>
public sealed class WorkerOptions
{
    public const string SectionName = "Workers";

    /// <summary>How long one call of a worker may take, connect to the end of its answer.</summary>
    [Range(1, 300)]
    public int TimeoutSeconds { get; set; } = 30;

    /// <summary>Retries of a call that got 429, 408, 5xx, no answer in time or no connection (exponential back-off, Retry-After honoured).</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 3;

    /// <summary>The first retry's delay; each next one doubles it (with jitter), at most 30 seconds.</summary>
    [Range(1, 60_000)]
    public int RetryDelayMilliseconds { get; set; } = 1000;

    /// <summary>The largest answer read from a worker, in bytes; a larger one ends the run failed with <c>agent_error</c>.</summary>
    [Range(1024, 1_048_576)]
    public int MaxResponseBytes { get; set; } = 256 * 1024;

    /// <summary>Workers a tenant may register.</summary>
    [Range(1, 100)]
    public int MaxPerTenant { get; set; } = 20;

    /// <summary>The most steps (calls, waits included) one run may ask of its worker; then it ends failed with <c>agent_turn_limit</c>.</summary>
    [Range(1, 10_000)]
    public int MaxSteps { get; set; } = 500;
}
