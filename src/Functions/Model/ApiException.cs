namespace AgentRuns.Functions.Model;

/// <summary>An RFC 9457 problem with the API's extra <c>reason_code</c> member (and, for some problems, <c>errors</c>).</summary>
public sealed record ProblemBody(string Type, string Title, int Status, string Detail, string ReasonCode);

/// <summary>
/// A failure the client can act on. Thrown by any layer and turned into problem+json in one place (the HTTP layer's
/// <c>ApiEndpoint</c>). Status codes are plain integers here so that nothing below HTTP depends on ASP.NET.
/// </summary>
public sealed class ApiException(int status, string reasonCode, string title, string detail) : Exception(detail)
{
    /// <summary>Response headers that go with the problem (<c>WWW-Authenticate</c> on a 401, <c>Retry-After</c> on a 503).</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    public int Status { get; } = status;

    public string ReasonCode { get; } = reasonCode;

    public string Title { get; } = title;

    /// <summary>Extra members of the problem body, such as the failing JSON pointers of an invalid payload.</summary>
    public IReadOnlyList<ProblemError>? Errors { get; init; }

    public static ApiException InvalidRequest(string detail) =>
        new(400, ReasonCodes.InvalidRequest, "Invalid request", detail);

    public static ApiException PayloadTooLarge(string detail) =>
        new(413, ReasonCodes.PayloadTooLarge, "Payload too large", detail);

    public static ApiException UnsupportedMediaType(string contentType) =>
        new(415, ReasonCodes.UnsupportedMediaType, "Unsupported media type",
            $"Send the body as application/json, not '{Truncate(contentType)}'.");

    public static ApiException Unauthorized(string detail, string? bearerError = "invalid_token")
    {
        var problem = new ApiException(401, ReasonCodes.Unauthorized, "Unauthorized", detail);
        problem.Headers["WWW-Authenticate"] = bearerError is null ? "Bearer" : $"Bearer error=\"{bearerError}\"";
        return problem;
    }

    public static ApiException IdempotencyKeyInUse(int retryAfterSeconds)
    {
        var problem = new ApiException(409, ReasonCodes.IdempotencyKeyInUse, "Idempotency key in use",
            "A request with this Idempotency-Key is still being processed. Retry after it completes.");
        problem.Headers["Retry-After"] = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return problem;
    }

    public static ApiException IdempotencyKeyReused() =>
        new(422, ReasonCodes.IdempotencyKeyReused, "Idempotency key reused",
            "This Idempotency-Key was used with a different request body. Use a new key for a new request.");

    public static ApiException InvalidSignalType(string detail) =>
        new(400, ReasonCodes.InvalidSignalType, "Invalid signal type", detail);

    public static ApiException InvalidSignalPayload(string detail, int status = 422, IReadOnlyList<ProblemError>? errors = null) =>
        new(status, ReasonCodes.InvalidSignalPayload, "Invalid signal payload", detail) { Errors = errors };

    public static ApiException AgentNotAvailable(string detail) =>
        new(400, ReasonCodes.AgentNotAvailable, "Agent not available", detail);

    public static ApiException RunNotFound(string runId) =>
        new(404, ReasonCodes.RunNotFound, "Run not found", $"No run with id '{Truncate(runId)}' exists.");

    public static ApiException RunNotAwaitingInput(string detail) =>
        new(409, ReasonCodes.RunNotAwaitingInput, "Run not awaiting input", detail);

    public static ApiException ExtendLimitReached(string detail) =>
        new(409, ReasonCodes.ExtendLimitReached, "Extend limit reached", detail);

    public static ApiException RunNotCancellable(string runId) =>
        new(409, ReasonCodes.RunNotCancellable, "Run not cancellable", $"Run '{runId}' has already ended.");

    public static ApiException WebhookNotFound(string webhookId) =>
        new(404, ReasonCodes.WebhookNotFound, "Webhook not found", $"No webhook with id '{Truncate(webhookId)}' exists.");

    public static ApiException InvalidWebhookUrl(string detail) =>
        new(400, ReasonCodes.InvalidWebhookUrl, "Invalid webhook URL", detail);

    public static ApiException WorkerNotFound(string name) =>
        new(404, ReasonCodes.WorkerNotFound, "Worker not found", $"No worker named '{Truncate(name)}' is registered.");

    public static ApiException WorkerExists(string name) =>
        new(409, ReasonCodes.WorkerExists, "Worker exists",
            $"A worker named '{Truncate(name)}' is already registered. Delete it first to register it again (that makes a new secret).");

    public static ApiException InvalidWorkerUrl(string detail) =>
        new(400, ReasonCodes.InvalidWorkerUrl, "Invalid worker URL", detail);

    public static ApiException StorageUnavailable(int retryAfterSeconds)
    {
        var problem = new ApiException(503, ReasonCodes.StorageUnavailable, "Storage unavailable",
            "The service cannot reach its storage right now. Nothing was changed by this request; retry it later.");
        problem.Headers["Retry-After"] = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return problem;
    }

    public ProblemBody ToBody() => new($"/errors/{ReasonCode}", Title, Status, Message, ReasonCode);

    private static string Truncate(string value) => value.Length <= 80 ? value : value[..80] + "…";
}

/// <summary>One failing location of a payload: a JSON pointer into it and what is wrong there.</summary>
public sealed record ProblemError(string Pointer, string Message);

/// <summary>The API's error reason codes (docs/api.md, Errors).</summary>
public static class ReasonCodes
{
    public const string InvalidRequest = "invalid_request";
    public const string InvalidSignalType = "invalid_signal_type";
    public const string InvalidSignalPayload = "invalid_signal_payload";
    public const string AgentNotAvailable = "agent_not_available";
    public const string PayloadTooLarge = "payload_too_large";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string Unauthorized = "unauthorized";
    public const string RunNotFound = "run_not_found";
    public const string RunNotAwaitingInput = "run_not_awaiting_input";
    public const string RunNotCancellable = "run_not_cancellable";
    public const string ExtendLimitReached = "extend_limit_reached";
    public const string IdempotencyKeyInUse = "idempotency_key_in_use";
    public const string IdempotencyKeyReused = "idempotency_key_reused";
    public const string StorageUnavailable = "storage_unavailable";
    public const string InternalError = "internal_error";
    public const string NotFound = "not_found";
    public const string WebhookNotFound = "webhook_not_found";
    public const string InvalidWebhookUrl = "invalid_webhook_url";
    public const string WorkerNotFound = "worker_not_found";
    public const string WorkerExists = "worker_exists";
    public const string InvalidWorkerUrl = "invalid_worker_url";
}
