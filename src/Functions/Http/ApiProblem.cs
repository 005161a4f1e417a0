using Microsoft.AspNetCore.Http;

namespace AgentRuns.Functions.Http;

/// <summary>An RFC 9457 problem with the API's extra <c>reason_code</c> member.</summary>
public sealed record ProblemBody(string Type, string Title, int Status, string Detail, string ReasonCode);

/// <summary>
/// A failure the client can act on. Thrown anywhere below a function and turned into problem+json in one place
/// (<see cref="ApiEndpoint"/>).
/// </summary>
public sealed class ApiException(int status, string reasonCode, string title, string detail) : Exception(detail)
{
    /// <summary>Response headers that go with the problem (<c>WWW-Authenticate</c> on a 401).</summary>
    public IDictionary<string, string> Headers { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    public int Status { get; } = status;

    public string ReasonCode { get; } = reasonCode;

    public string Title { get; } = title;

    public static ApiException InvalidRequest(string detail) =>
        new(StatusCodes.Status400BadRequest, ReasonCodes.InvalidRequest, "Invalid request", detail);

    public static ApiException TooLarge(int maxBytes) =>
        new(StatusCodes.Status413PayloadTooLarge, ReasonCodes.InvalidRequest, "Request body too large", $"The request body must not exceed {maxBytes} bytes.");

    public static ApiException Unauthorized(string detail, string? bearerError = "invalid_token")
    {
        var problem = new ApiException(StatusCodes.Status401Unauthorized, ReasonCodes.Unauthorized, "Unauthorized", detail);
        problem.Headers["WWW-Authenticate"] = bearerError is null ? "Bearer" : $"Bearer error=\"{bearerError}\"";
        return problem;
    }

    public static ApiException IdempotencyKeyInUse() =>
        new(StatusCodes.Status409Conflict, ReasonCodes.IdempotencyKeyInUse, "Idempotency key in use",
            "A request with this Idempotency-Key is still being processed. Retry after it completes.");

    public static ApiException IdempotencyKeyReused() =>
        new(StatusCodes.Status422UnprocessableEntity, ReasonCodes.IdempotencyKeyReused, "Idempotency key reused",
            "This Idempotency-Key was used with a different request body. Use a new key for a new request.");

    public static ApiException InvalidSignalType(string detail) =>
        new(StatusCodes.Status400BadRequest, ReasonCodes.InvalidSignalType, "Invalid signal type", detail);

    public static ApiException RunNotFound(string runId) =>
        new(StatusCodes.Status404NotFound, ReasonCodes.RunNotFound, "Run not found", $"No run with id '{Truncate(runId)}' exists.");

    public static ApiException RunNotAwaitingInput(string detail) =>
        new(StatusCodes.Status409Conflict, ReasonCodes.RunNotAwaitingInput, "Run not awaiting input", detail);

    public static ApiException RunNotCancellable(string runId) =>
        new(StatusCodes.Status409Conflict, ReasonCodes.RunNotCancellable, "Run not cancellable", $"Run '{runId}' has already ended.");

    public ProblemBody ToBody() => new($"/errors/{ReasonCode}", Title, Status, Message, ReasonCode);

    private static string Truncate(string value) => value.Length <= 80 ? value : value[..80] + "…";
}

/// <summary>The API's error reason codes (API.md, Errors).</summary>
public static class ReasonCodes
{
    public const string InvalidRequest = "invalid_request";
    public const string InvalidSignalType = "invalid_signal_type";
    public const string Unauthorized = "unauthorized";
    public const string RunNotFound = "run_not_found";
    public const string RunNotAwaitingInput = "run_not_awaiting_input";
    public const string RunNotCancellable = "run_not_cancellable";
    public const string IdempotencyKeyInUse = "idempotency_key_in_use";
    public const string IdempotencyKeyReused = "idempotency_key_reused";
    public const string InternalError = "internal_error";
    public const string NotFound = "not_found";
}
