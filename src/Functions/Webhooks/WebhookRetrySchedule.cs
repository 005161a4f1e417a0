namespace AgentRuns.Functions.Webhooks;

/// <summary>
/// When a delivery is tried again: the first attempt is immediate, attempt n + 1 follows attempt n after the n-th delay of the
/// schedule (<see cref="WebhookOptions.RetryScheduleSeconds"/>), and after the last delay's attempt the delivery is given up.
/// The default, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, is the Standard Webhooks / Svix schedule: 8 attempts over about 27.6 hours.
/// </summary>
public sealed class WebhookRetrySchedule(IReadOnlyList<TimeSpan> delays)
{
    public IReadOnlyList<TimeSpan> Delays { get; } = delays ?? throw new ArgumentNullException(nameof(delays));

    /// <summary>Attempts in all, the first one included.</summary>
    public int MaxAttempts => Delays.Count + 1;

    /// <summary>The wait after failed attempt <paramref name="attempt"/> (1-based), or null when it was the last.</summary>
    public TimeSpan? DelayAfter(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attempt, 1);
        return attempt <= Delays.Count ? Delays[attempt - 1] : null;
    }
}
