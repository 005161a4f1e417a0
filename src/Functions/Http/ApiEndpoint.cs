using System.Text.Json;
using AgentRuns.Functions.Idempotency;
using AgentRuns.Functions.Model;
using AgentRuns.Functions.Runs;
using AgentRuns.Functions.Security;
using AgentRuns.Functions.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AgentRuns.Functions.Http;

/// <summary>
/// The one place that turns a request into a response: authenticates the caller, reads and checks the body, applies
/// the idempotency key, runs the handler, and maps every failure to problem+json: the client's mistakes to 4xx, storage
/// that cannot be reached to 503 <c>storage_unavailable</c> with <c>Retry-After</c>, anything else to a 500 without detail.
/// </summary>
public sealed partial class ApiEndpoint(ICallerResolver callers, IdempotencyStore idempotency, ILogger<ApiEndpoint> logger)
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    private const int MaxIdempotencyKeyLength = 255;

    /// <summary>What a client is told to wait before retrying while storage is out.</summary>
    private const int StorageRetryAfterSeconds = 10;

    /// <summary>A request without a body (GET).</summary>
    public Task<IResult> HandleAsync(HttpRequest request, Func<Caller, CancellationToken, Task<IResult>> handler)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(handler);
        return GuardAsync(request, async ct => await handler(await callers.ResolveAsync(request, ct), ct));
    }

    /// <summary>
    /// A POST: the body is read once (bounded, strict JSON object), and an idempotency key makes it safe to retry. The handler
    /// gets the key's <see cref="IdempotencySeed"/> (null without a key): what stays the same across retries of this request.
    /// </summary>
    public Task<IResult> HandlePostAsync(
        HttpRequest request, bool bodyRequired, Func<Caller, JsonElement?, IdempotencySeed?, CancellationToken, Task<JsonReply>> handler)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(handler);
        return GuardAsync(request, async ct =>
        {
            var caller = await callers.ResolveAsync(request, ct);
            var body = await RequestReader.ReadObjectAsync(request, optional: !bodyRequired, ct);
            var key = IdempotencyKey(request, body);
            if (key is null)
            {
                return await handler(caller, body, null, ct);
            }

            var fingerprint = IdempotencyStore.Fingerprint(body is null ? [] : JsonSerializer.SerializeToUtf8Bytes(body.Value));
            var claim = await idempotency.ClaimAsync(caller.TenantId, request.Method, RoutePath(request), key, fingerprint, ct);
            if (claim is IdempotencyClaim.Replay replay)
            {
                return JsonReply.Replay(replay.Response);
            }

            var owned = ((IdempotencyClaim.Owned)claim).Entity;
            JsonReply reply;
            try
            {
                reply = await handler(caller, body, new IdempotencySeed(owned.PartitionKey + "/" + owned.RowKey, owned.CreatedAt), ct);
            }
            catch (ApiException problem) when (IsStored(problem.Status))
            {
                reply = ApiResults.Problem(problem);
            }
            catch
            {
                // Invalid, or failed before it could take effect: a retry with the same key may run it. If storage is out, this
                // fails too; the claim's lock then lapses and a retry takes it over.
                await ReleaseQuietlyAsync(owned);
                throw;
            }

            try
            {
                await idempotency.CompleteAsync(owned, reply.ToStored(), CancellationToken.None);
            }
#pragma warning disable CA1031 // The request took effect: say so. A retry takes the claim over once its lock lapses and finds
            // what this one did (the run its key derived, the answer its key recorded), so it is answered the same.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                LogCompleteFailed(logger, ex);
            }

            return reply;
        });
    }

    /// <summary>
    /// Responses that are replayed to a retry: what the request did (2xx) and what it found (404, 409).
    /// Validation failures (400, 413, 422) are not stored, as Stripe does: the request never started.
    /// </summary>
    private static bool IsStored(int status) => status is >= 200 and < 300 or StatusCodes.Status404NotFound or StatusCodes.Status409Conflict;

    /// <summary>
    /// The path a key is scoped by, as the router sees it: routes match without regard to case or a trailing slash, so
    /// <c>/V1/RUNS/</c> and <c>/v1/runs</c> are the same request (every id in a path is lower case or a UUID).
    /// </summary>
    internal static string RoutePath(HttpRequest request) => (request.Path.Value ?? "").TrimEnd('/').ToLowerInvariant();

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

    private async Task ReleaseQuietlyAsync(IdempotencyEntity owned)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            await idempotency.ReleaseAsync(owned, timeout.Token);
        }
#pragma warning disable CA1031 // Best effort: the claim's lock lapses by itself.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogReleaseFailed(logger, ex);
        }
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
        catch (BadHttpRequestException ex)
        {
            // The request itself is broken (a body shorter than its Content-Length, a client too slow to send it).
            return ApiResults.Problem(ApiException.InvalidRequest($"The request could not be read: {ex.Message}"));
        }
#pragma warning disable CA1031 // This is the boundary: nothing may escape as a stack trace or an HTML page.
        catch (Exception ex) when (StorageFailures.IsUnavailable(ex))
        {
            LogStorageUnavailable(logger, ex, request.Method, request.Path.Value ?? "");
            return ApiResults.Problem(ApiException.StorageUnavailable(StorageRetryAfterSeconds));
        }
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage unavailable in {Method} {Path}: answered 503")]
    private static partial void LogStorageUnavailable(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A response could not be stored for its idempotency key; a retry will recompute it")]
    private static partial void LogCompleteFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "An idempotency claim could not be released; its lock lapses by itself")]
    private static partial void LogReleaseFailed(ILogger logger, Exception exception);
}
