using AgentRuns.Functions.Model;
using AgentRuns.Functions.Storage;
using AgentRuns.Functions.Webhooks;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;

namespace AgentRuns.Functions.Http;

/// <summary>The webhooks API: thin functions that parse, validate, call <see cref="WebhookService"/> and map the result.</summary>
public sealed class WebhookFunctions(WebhookService webhooks, ApiEndpoint api)
{
    [Function(nameof(CreateWebhook))]
    public Task<IResult> CreateWebhook(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/webhooks")] HttpRequest req) =>
        api.HandlePostAsync(req, bodyRequired: true, async (caller, body, seed, ct) =>
        {
            var request = WebhookRequests.ParseCreate(body!.Value);
            var created = await webhooks.CreateAsync(caller, request, seed, ct);
            return ApiResults.Json(created, StatusCodes.Status201Created).WithHeader("Location", $"/v1/webhooks/{created.Id}");
        });

    [Function(nameof(ListWebhooks))]
    public Task<IResult> ListWebhooks(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/webhooks")] HttpRequest req) =>
        api.HandleAsync(req, async (caller, ct) => ApiResults.Json(await webhooks.ListAsync(caller, ct)));

    [Function(nameof(GetWebhook))]
    public Task<IResult> GetWebhook(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/webhooks/{id}")] HttpRequest req,
        string id) =>
        api.HandleAsync(req, async (caller, ct) => ApiResults.Json(await webhooks.GetAsync(caller, WebhookRequests.WebhookId(id), ct)));

    [Function(nameof(DeleteWebhook))]
    public Task<IResult> DeleteWebhook(
        [HttpTrigger(AuthorizationLevel.Anonymous, "delete", Route = "v1/webhooks/{id}")] HttpRequest req,
        string id) =>
        api.HandleAsync(req, async (caller, ct) =>
        {
            await webhooks.DeleteAsync(caller, WebhookRequests.WebhookId(id), ct);
            return Results.NoContent();
        });

    [Function(nameof(ListWebhookDeliveries))]
    public Task<IResult> ListWebhookDeliveries(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/webhooks/{id}/deliveries")] HttpRequest req,
        string id) =>
        api.HandleAsync(req, async (caller, ct) =>
        {
            var webhookId = WebhookRequests.WebhookId(id);
            var cursor = RequestReader.QueryValue(req, "cursor");
            if (cursor is not null && !WebhookAttemptLog.IsCursor(cursor))
            {
                throw ApiException.InvalidRequest("'cursor' is not a cursor this API returned.");
            }

            var limit = RequestReader.QueryInt(req, "limit", 20, 1, 100);
            return ApiResults.Json(await webhooks.ListDeliveriesAsync(caller, webhookId, cursor, limit, ct));
        });
}
