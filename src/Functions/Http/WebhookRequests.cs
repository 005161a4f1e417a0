using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Webhooks;

namespace AgentRuns.Functions.Http;

/// <summary>Turns webhook request bodies and paths into checked values, or says exactly what is wrong.</summary>
public static class WebhookRequests
{
    /// <summary>
    /// <c>{"url": "https://…", "events": ["run.awaiting_input", …]?}</c>. Without <c>events</c> the subscription gets every supported
    /// type; duplicates count once. The URL's shape is checked here, its host by <see cref="WebhookUrlPolicy"/> in the service.
    /// </summary>
    public static CreateWebhookRequest ParseCreate(JsonElement body)
    {
        RequestReader.RejectUnknownMembers(body, "url", "events", "idempotency_key");
        if (!body.TryGetProperty("url", out var url) || url.ValueKind == JsonValueKind.Null)
        {
            throw ApiException.InvalidRequest("'url' is required: the https URL to deliver to.");
        }

        if (url.ValueKind != JsonValueKind.String)
        {
            throw ApiException.InvalidRequest("'url' must be a string.");
        }

        IReadOnlyList<string> events = WebhookEvents.Supported;
        if (body.TryGetProperty("events", out var list) && list.ValueKind != JsonValueKind.Null)
        {
            if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            {
                throw ApiException.InvalidRequest($"'events' must be a non-empty array of event types: {string.Join(", ", WebhookEvents.Supported)}.");
            }

            var named = new List<string>();
            foreach (var item in list.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String || !WebhookEvents.IsSupported(item.GetString()!))
                {
                    var shown = item.ValueKind == JsonValueKind.String ? item.GetString()! : item.GetRawText();
                    throw ApiException.InvalidRequest(
                        $"'events' has '{(shown.Length <= 40 ? shown : shown[..40] + "…")}', which is not a webhook event type. Supported: {string.Join(", ", WebhookEvents.Supported)}.");
                }

                named.Add(item.GetString()!);
            }

            events = [.. WebhookEvents.Supported.Where(named.Contains)]; // the supported order, each once
        }

        _ = RequestReader.OptionalString(body, "idempotency_key", RunRequests.MaxKeyLength);
        return new CreateWebhookRequest(url.GetString()!, events);
    }

    /// <summary>Checks a webhook id from the path before it reaches a query.</summary>
    public static string WebhookId(string? id)
    {
        if (string.IsNullOrEmpty(id) || WebhookIds.IsMalformed(id))
        {
            throw ApiException.InvalidRequest("The webhook id is malformed: webhook ids look like 'wh_' followed by letters and digits.");
        }

        return WebhookIds.IsWellFormed(id) ? id : throw ApiException.WebhookNotFound(id);
    }
}
