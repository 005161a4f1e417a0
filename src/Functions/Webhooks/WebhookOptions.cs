using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace AgentRuns.Functions.Webhooks;

/// <summary>How webhooks are accepted and delivered. Bound from the <c>Webhooks</c> section (<c>Webhooks__AllowLoopback</c>…).</summary>
public sealed class WebhookOptions
{
    public const string SectionName = "Webhooks";

    /// <summary>
    /// Development only: also accept <c>http</c> and <c>https</c> URLs whose host is a loopback address (127.0.0.0/8, ::1), so a
    /// receiver on the same machine works. Private, link-local and metadata addresses stay refused. Off in Azure; the local host
    /// turns it on.
    /// </summary>
    public bool AllowLoopback { get; set; }

    /// <summary>
    /// Seconds to wait before each retry, comma-separated: the first attempt is immediate, then one retry per entry, then the
    /// delivery is given up. The default is the Standard Webhooks / Svix schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    /// </summary>
    [Required, RegularExpression(@"^\s*\d{1,6}\s*(,\s*\d{1,6}\s*){0,19}$")]
    public string RetryScheduleSeconds { get; set; } = "5,300,1800,7200,18000,36000,36000";

    /// <summary>How long one delivery attempt may take, connect to response headers; longer counts as a failed attempt.</summary>
    [Range(1, 120)]
    public int AttemptTimeoutSeconds { get; set; } = 15;

    /// <summary>
    /// How long a process keeps a tenant's subscriptions in memory for the run's write path. A new or deleted subscription is seen
    /// by other instances within this time (at once by the instance that served the request); 0 reads them on every append.
    /// </summary>
    [Range(0, 3600)]
    public int SubscriptionCacheSeconds { get; set; } = 30;

    /// <summary>
    /// How long a delivery whose event is not (yet) in the run's log is kept: the run's write may still be in flight. After this
    /// it is dropped (the write it was recorded for did not land).
    /// </summary>
    [Range(5, 86400)]
    public int MissingEventGraceSeconds { get; set; } = 300;

    /// <summary>How often a host without timer functions (the local host) runs a delivery pass. In Azure the
    /// <c>DeliverWebhooks</c> timer function runs once a minute.</summary>
    [Range(1, 3600)]
    public int DispatchIntervalSeconds { get; set; } = 60;

    /// <summary>Due deliveries taken per pass at most.</summary>
    [Range(1, 1000)]
    public int BatchSize { get; set; } = 100;

    /// <summary>Deliveries in flight at once per process.</summary>
    [Range(1, 64)]
    public int MaxConcurrentDeliveries { get; set; } = 8;

    /// <summary>Subscriptions a tenant may have (each event is written once per matching subscription on the run's path).</summary>
    [Range(1, 100)]
    public int MaxPerTenant { get; set; } = 20;

    /// <summary>Days the delivery attempts stay visible in <c>GET /v1/webhooks/{id}/deliveries</c>.</summary>
    [Range(1, 365)]
    public int AttemptRetentionDays { get; set; } = 30;

    /// <summary>The delays of <see cref="RetryScheduleSeconds"/>.</summary>
    public IReadOnlyList<TimeSpan> RetryDelays() =>
        [.. RetryScheduleSeconds.Split(',').Select(s => TimeSpan.FromSeconds(int.Parse(s.Trim(), NumberStyles.None, CultureInfo.InvariantCulture)))];
}
