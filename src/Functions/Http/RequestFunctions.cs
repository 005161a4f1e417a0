using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Orchestrations;
using AgentRuns.Functions.Runs;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AgentRuns.Functions.Http;

/// <summary>Requests for human input across runs: the tenant's inbox, and moving a request's deadline.</summary>
public sealed partial class RequestFunctions(RunService runs, ApiEndpoint api, IOptions<RunOptions> options, ILogger<RunEngine> engineLogger)
{
    [Function(nameof(ListRequests))]
    public Task<IResult> ListRequests(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "v1/requests")] HttpRequest req) =>
        api.HandleAsync(req, async (caller, ct) =>
        {
            var status = RequestReader.QueryValue(req, "status") ?? "pending";
            if (status != "pending")
            {
                throw ApiException.InvalidRequest("'status' must be 'pending' (the inbox lists requests that wait for an answer).");
            }

            var cursor = RequestReader.QueryValue(req, "cursor");
            var key = cursor is null ? null : RequestResources.DecodeCursor(cursor) ?? throw ApiException.InvalidRequest("'cursor' is not a cursor this API returned.");
            var limit = RequestReader.QueryInt(req, "limit", 20, 1, 100);
            return ApiResults.Json(await runs.ListPendingRequestsAsync(caller, key, limit, ct));
        });

    [Function(nameof(ExtendRequest))]
    public Task<IResult> ExtendRequest(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "v1/runs/{id}/requests/{requestId}/extend")] HttpRequest req,
        string id,
        string requestId,
        [DurableClient] DurableTaskClient durable) =>
        api.HandlePostAsync(req, bodyRequired: true, async (caller, body, seed, ct) =>
        {
            var runId = RequestReader.RunId(id);
            if (string.IsNullOrEmpty(requestId) || !RequestIdShape().IsMatch(requestId))
            {
                throw ApiException.InvalidRequest("The request id is malformed: request ids are UUIDs.");
            }

            requestId = requestId.ToLowerInvariant(); // a UUID in any case names the same request, as the idempotency key's path does

            var extend = ParseExtend(body!.Value, options.Value.MaxSignalTimeoutSeconds);
            return ApiResults.Json(await runs.ExtendAsync(caller, runId, requestId, extend, seed, new RunEngine(durable, engineLogger), ct));
        });

    private static ExtendRequest ParseExtend(JsonElement body, int maxSeconds)
    {
        RequestReader.RejectUnknownMembers(body, "extend_by_seconds", "expires_at", "idempotency_key");
        var by = RequestReader.OptionalInt(body, "extend_by_seconds", 1, maxSeconds);
        var at = RequestReader.OptionalString(body, "expires_at", 64);
        if ((by is null) == (at is null))
        {
            throw ApiException.InvalidRequest("Give exactly one of 'extend_by_seconds' (1 to " + maxSeconds + ") or 'expires_at' (an ISO-8601 time with Z or an offset).");
        }

        if (at is null)
        {
            return new ExtendRequest(null, by);
        }

        // RFC 3339 as clients write it: seconds optional (Java), up to 9 fraction digits (Go), cut to the 7 .NET keeps.
        var shape = IsoTime().Match(at);
        var text = shape.Success ? shape.Groups["head"].Value + (shape.Groups["fraction"].Value is { Length: > 0 } f ? f[..Math.Min(f.Length, 8)] : "") + shape.Groups["zone"].Value : "";
        return shape.Success && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var expiresAt)
            ? new ExtendRequest(expiresAt.ToUniversalTime(), null)
            : throw ApiException.InvalidRequest("'expires_at' must be an ISO-8601 time with Z or an offset, like 2026-03-26T14:35:01.000Z.");
    }

    [GeneratedRegex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex RequestIdShape();

    [GeneratedRegex(@"^(?<head>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?)(?<fraction>\.\d{1,9})?(?<zone>Z|[+-]\d{2}:?\d{2})\z", RegexOptions.CultureInvariant)]
    private static partial Regex IsoTime();
}
