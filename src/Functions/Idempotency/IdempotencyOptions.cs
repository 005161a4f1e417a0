using System.ComponentModel.DataAnnotations;

namespace AgentRuns.Functions.Idempotency;

/// <summary>Idempotency-Key behaviour. Bound from the <c>Idempotency</c> section.</summary>
public sealed class IdempotencyOptions
{
    public const string SectionName = "Idempotency";

    /// <summary>How long a completed response is kept for replay (at least 24 h, as API.md promises).</summary>
    [Range(24, 24 * 30)]
    public int RetentionHours { get; set; } = 24;

    /// <summary>How long an in-flight claim blocks other requests with the same key before it counts as abandoned.</summary>
    [Range(5, 600)]
    public int LockSeconds { get; set; } = 60;
}
