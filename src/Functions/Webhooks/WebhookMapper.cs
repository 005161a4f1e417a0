using AgentRuns.Functions.Model;
using AgentRuns.Functions.Storage;

namespace AgentRuns.Functions.Webhooks;

/// <summary>The one mapping from stored subscriptions and attempts to API resources (the tenant and the secret stay behind).</summary>
public static class WebhookMapper
{
    public const string Enabled = "enabled";
    public const string Disabled = "disabled";

    public static WebhookResource ToResource(WebhookSubscription s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return new WebhookResource(s.Id, "webhook", s.Url, s.Events, s.Enabled ? Enabled : Disabled, s.CreatedAt, s.DisabledAt, s.DisabledReason);
    }

    /// <summary>The answer to a create: the only resource with the secret.</summary>
    public static CreatedWebhookResource ToCreated(WebhookSubscription s)
    {
        ArgumentNullException.ThrowIfNull(s);
        return new CreatedWebhookResource(
            s.Id, "webhook", s.Url, s.Events, s.Enabled ? Enabled : Disabled, s.CreatedAt, s.DisabledAt, s.DisabledReason, s.Secret);
    }

    public static WebhookAttemptResource ToResource(WebhookAttempt a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return new WebhookAttemptResource(
            "webhook.delivery_attempt", a.MessageId, a.EventType, a.RunId, a.Seq, a.Attempt, a.Outcome, a.StatusCode, a.Error, a.At, a.NextAttemptAt,
            a.DurationMilliseconds);
    }
}
