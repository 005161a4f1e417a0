using System.Text.Json;
using AgentRuns.Functions.Idempotency;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Functions.Http;

/// <summary>
/// The one place that turns a request into a response: authenticates the caller, reads and checks the body, applies
/// the idempotency key, runs the handler, and maps every failure to problem+json. Unexpected failures are logged and
/// answered with a 500 that carries no detail.
/// </summary>
public sealed partial class ApiEndpoint(ITenantResolver tenants, IdempotencyStore idempotency, ILogger<ApiEndpoint> logger)
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    private const string SeedItem = "AgentRuns.IdempotencySeed";
    private const int MaxIdempotencyKeyLength = 255;

    /// <summary>A request without a body (GET).</summary>
    public Task<IResult> HandleAsync(HttpRequest request, Func<TenantContext, CancellationToken, Task<IResult>> handler) =>
        GuardAsync(request, async ct => await handler(await tenants.ResolveAsync(request, ct), ct));

    /// <summary>A POST: the body is read once (bounded, strict JSON object), and an idempotency key makes it safe to retry.</summary>
    public Task<IResult> HandlePostAsync(
        HttpRequest request, bool bodyRequired, Func<TenantContext, JsonElement?, CancellationToken, Task<JsonReply>> handler) =>
        GuardAsync(request, async ct =>
        {
            var tenant = await tenants.ResolveAsync(request, ct);
            var body = await RequestReader.ReadObjectAsync(request, optional: !bodyRequired, ct);
            var key = IdempotencyKey(request, body);
            if (key is null)
            {
                return await handler(tenant, body, ct);
            }

            var fingerprint = IdempotencyStore.Fingerprint(body is null ? [] : JsonSerializer.SerializeToUtf8Bytes(body.Value));
            var claim = await idempotency.ClaimAsync(tenant.TenantId, request.Method, request.Path.Value ?? "", key, fingerprint, ct);
            if (claim is IdempotencyClaim.Replay replay)
            {
                return replay.Reply;
            }

            var owned = ((IdempotencyClaim.Owned)claim).Entity;
            request.HttpContext.Items[SeedItem] = new IdempotencySeed(owned.PartitionKey + "/" + owned.RowKey, owned.CreatedAt);
            JsonReply reply;
            try
            {
                reply = await handler(tenant, body, ct);
            }
            catch (ApiException problem) when (IsStored(problem.Status))
            {
                reply = ApiResults.Problem(problem);
            }
            catch
            {
                // Invalid, or failed before it could take effect: a retry with the same key may run it.
                await idempotency.ReleaseAsync(owned, CancellationToken.None);
                throw;
            }

            await idempotency.CompleteAsync(owned, reply, CancellationToken.None);
            return reply;
        });

    /// <summary>
    /// For a request with an idempotency key: a seed that stays the same across retries of that request, even one that
    /// takes over from an attempt that died, so a handler can derive the ids of what it creates from it.
    /// </summary>
    public static IdempotencySeed? SeedOf(HttpRequest request) =>
        request.HttpContext.Items.TryGetValue(SeedItem, out var seed) ? seed as IdempotencySeed : null;

    /// <summary>
    /// Responses that are replayed to a retry: what the request did (2xx) and what it found (404, 409).
    /// Validation failures (400, 413, 422) are not stored, as Stripe does: the request never started.
    /// </summary>
    private static bool IsStored(int status) => status is >= 200 and < 300 or StatusCodes.Status404NotFound or StatusCodes.Status409Conflict;

    /// <summary>The key from the <c>Idempotency-Key</c> header or the body's <c>idempotency_key</c>; both must agree.</summary>
    private static string? IdempotencyKey(HttpRequest request, JsonElement? body)
    {
        var headers = request.Headers[IdempotencyKeyHeader];
        if (headers.Count > 1)
        {
            throw ApiException.InvalidRequest("Send one Idempotency-Key header.");
        }

        var header = headers.Count == 1 ? headers[0] : null;
        string? fromBody = null;
        if (body is { } b && b.TryGetProperty("idempotency_key", out var k) && k.ValueKind != JsonValueKind.Null)
        {
            fromBody = k.ValueKind == JsonValueKind.String ? k.GetString() : throw ApiException.InvalidRequest("'idempotency_key' must be a string.");
        }

        if (header is not null && fromBody is not null && !string.Equals(header, fromBody, StringComparison.Ordinal))
        {
            throw ApiException.InvalidRequest("The Idempotency-Key header and the body's idempotency_key differ.");
        }

        var key = header ?? fromBody;
        if (key is not null && (key.Length is 0 or > MaxIdempotencyKeyLength || key.Any(char.IsControl)))
        {
            throw ApiException.InvalidRequest($"An idempotency key is 1 to {MaxIdempotencyKeyLength} printable characters.");
        }

        return key;
    }

    private async Task<IResult> GuardAsync(HttpRequest request, Func<CancellationToken, Task<IResult>> handle)
    {
        var cancellationToken = request.HttpContext.RequestAborted;
        try
        {
            return await handle(cancellationToken);
        }
        catch (ApiException problem)
        {
            return ApiResults.Problem(problem);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Results.StatusCode(499); // the client went away; nobody reads this
        }
#pragma warning disable CA1031 // This is the boundary: nothing may escape as a stack trace or an HTML page.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogUnexpected(logger, ex, request.Method, request.Path.Value ?? "");
            return ApiResults.Problem(new ApiException(
                StatusCodes.Status500InternalServerError, ReasonCodes.InternalError, "Internal error", "The service failed to handle the request. Retry it later."));
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled failure in {Method} {Path}")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string method, string path);
}

/// <summary>What stays the same across the retries of one idempotent request.</summary>
public sealed record IdempotencySeed(string Key, DateTimeOffset CreatedAt);
