using System.Text.Json;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Workers;

namespace AgentRuns.Functions.Http;

/// <summary>Turns worker request bodies and paths into checked values, or says exactly what is wrong.</summary>
public static class WorkerRequests
{
    /// <summary>
    /// <c>{"name": "email", "url": "https://…"}</c>. The URL's host is checked by <see cref="Webhooks.WebhookUrlPolicy"/> in the
    /// service (it takes DNS); everything else here.
    /// </summary>
    public static CreateWorkerRequest ParseCreate(JsonElement body)
    {
        RequestReader.RejectUnknownMembers(body, "name", "url", "idempotency_key");
        var name = Required(body, "name", "the worker's name, used by runs as agent \"worker:<name>\"");
        if (!WorkerNames.IsValid(name))
        {
            throw ApiException.InvalidRequest($"'name' is not a valid worker name: {WorkerNames.Rule}.");
        }

        var url = Required(body, "url", "the https URL the service posts each step to");
        _ = RequestReader.OptionalString(body, "idempotency_key", RunRequests.MaxKeyLength);
        return new CreateWorkerRequest(name, url);
    }

    /// <summary>Checks a worker name from the path before it reaches a query.</summary>
    public static string WorkerName(string? name) =>
        WorkerNames.IsValid(name) ? name! : throw ApiException.InvalidRequest($"The worker name in the path is malformed: {WorkerNames.Rule}.");

    private static string Required(JsonElement body, string member, string what)
    {
        if (!body.TryGetProperty(member, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            throw ApiException.InvalidRequest($"'{member}' is required: {what}.");
        }

        return value.ValueKind == JsonValueKind.String ? value.GetString()! : throw ApiException.InvalidRequest($"'{member}' must be a string.");
    }
}
