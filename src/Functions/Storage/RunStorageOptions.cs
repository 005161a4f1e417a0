using System.ComponentModel.DataAnnotations;

namespace AgentRuns.Functions.Storage;

/// <summary>
/// Where the run records and event log live. Bound from the <c>RunStorage</c> section.
/// Locally: <c>ConnectionString</c> (Azurite). In Azure: <c>TableServiceUri</c> with a managed identity
/// (<c>ClientId</c> of a user-assigned identity), never a key.
/// </summary>
public sealed class RunStorageOptions
{
    public const string SectionName = "RunStorage";

    public string? ConnectionString { get; set; }

    public Uri? TableServiceUri { get; set; }

    /// <summary>Client id of the user-assigned managed identity used with <see cref="TableServiceUri"/>.</summary>
    public string? ClientId { get; set; }

    /// <summary>Run records and their events, one partition per tenant (see <see cref="RunRows"/>).</summary>
    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string RunsTable { get; set; } = "Runs";

    /// <summary>The runs that have not ended, for the repairer (see <see cref="OpenRunIndex"/>).</summary>
    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string OpenRunsTable { get; set; } = "OpenRuns";

    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string IdempotencyTable { get; set; } = "Idempotency";

    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string ApiKeysTable { get; set; } = "ApiKeys";

    /// <summary>Webhook subscriptions, one partition per tenant (see <see cref="WebhookSubscriptionStore"/>).</summary>
    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string WebhooksTable { get; set; } = "Webhooks";

    /// <summary>Webhook deliveries not done yet, for the dispatcher (see <see cref="WebhookOutboxIndex"/>).</summary>
    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string WebhookOutboxTable { get; set; } = "WebhookOutbox";

    /// <summary>Webhook delivery attempts, one partition per subscription (see <see cref="WebhookAttemptLog"/>).</summary>
    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string WebhookAttemptsTable { get; set; } = "WebhookAttempts";

    /// <summary>The model agent's conversations and step results, one partition per run (see <see cref="ModelConversationStore"/>).</summary>
    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string ModelTurnsTable { get; set; } = "ModelTurns";

    /// <summary>The tenants' HTTP workers and their signing secrets, one partition per tenant (see <see cref="WorkerStore"/>).</summary>
    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string WorkersTable { get; set; } = "Workers";

    /// <summary>What each step of a run with an HTTP worker decided, one partition per run (see <see cref="WorkerStepStore"/>).</summary>
    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string WorkerStepsTable { get; set; } = "WorkerSteps";

    /// <summary>What the sample <c>send_email</c> tool "sends": one row per approved call (see <see cref="EmailOutbox"/>).</summary>
    [Required, RegularExpression("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    public string EmailOutboxTable { get; set; } = "EmailOutbox";

    /// <summary>
    /// How long one storage request may take before it is retried (seconds). With <see cref="MaxRetries"/> this bounds how long an
    /// API request waits on storage that does not answer before it gets 503 storage_unavailable.
    /// </summary>
    [Range(1, 100)]
    public int NetworkTimeoutSeconds { get; set; } = 5;

    /// <summary>Retries of a failed storage request (exponential back-off from 0.4 s, at most 2 s apart).</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 2;

    internal bool IsConfigured => !string.IsNullOrWhiteSpace(ConnectionString) || TableServiceUri is not null;
}
