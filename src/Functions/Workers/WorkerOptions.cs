using System.ComponentModel.DataAnnotations;

namespace AgentRuns.Functions.Workers;

/// <summary>
/// How HTTP workers are registered and called. Bound from the <c>Workers</c> section (<c>Workers__TimeoutSeconds</c>…). Which URLs
/// a worker may have is the webhooks' rule (<c>Webhooks:AllowLoopback</c> included): see <see cref="Webhooks.WebhookUrlPolicy"/>.
/// </summary>
public sealed class WorkerOptions : IValidatableObject
{
    public const string SectionName = "Workers";

    /// <summary>
    /// The longest a step's call may take with all its retries (<see cref="Agents.WorkerAgentServiceCollectionExtensions.TotalTimeout"/>):
    /// it runs inside the <c>InvokeAgent</c> activity, which must end well within the Functions host's <c>functionTimeout</c>
    /// (10 minutes in host.json), or the activity would be cut off and retried, calling the worker again.
    /// </summary>
    public static readonly TimeSpan MaxTotalTimeout = TimeSpan.FromMinutes(8);

    /// <summary>How long one attempt of a call may take, connect to the end of its answer.</summary>
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

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var total = Agents.WorkerAgentServiceCollectionExtensions.TotalTimeout(this);
        if (total > MaxTotalTimeout)
        {
            yield return new ValidationResult(
                $"Workers: (MaxRetries + 1) × TimeoutSeconds + MaxRetries × 30 s is {total.TotalSeconds:F0} s; at most {MaxTotalTimeout.TotalSeconds:F0} s fit in one activity.",
                [nameof(TimeoutSeconds), nameof(MaxRetries)]);
        }
    }
}
