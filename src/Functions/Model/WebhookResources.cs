namespace AgentRuns.Functions.Model;

// The webhook API's resources. The signing secret appears in one of them only: the answer to the create.

/// <summary>A webhook subscription as the API shows it.</summary>
public sealed record WebhookResource(
    string Id,
    string Object,
    string Url,
    IReadOnlyList<string> Events,
    string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DisabledAt,
    string? DisabledReason);

/// <summary>The 201 body of a create: the subscription and its signing secret, shown this once.</summary>
public sealed record CreatedWebhookResource(
    string Id,
    string Object,
    string Url,
    IReadOnlyList<string> Events,
    string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? DisabledAt,
    string? DisabledReason,
    string Secret);

public sealed record WebhookList(string Object, IReadOnlyList<WebhookResource> Data);

/// <summary>One delivery attempt of one event to one subscription.</summary>
/// <param name="DeliveryId">The <c>webhook-id</c> header sent: the same on every attempt of this event.</param>
public sealed record WebhookAttemptResource(
    string Object,
    string DeliveryId,
    string EventType,
    string RunId,
    long Seq,
    int Attempt,
    string Outcome,
    int? StatusCode,
    string? Error,
    DateTimeOffset At,
    DateTimeOffset? NextAttemptAt,
    long DurationMs);

public sealed record WebhookAttemptList(string Object, IReadOnlyList<WebhookAttemptResource> Data, string? NextCursor);
