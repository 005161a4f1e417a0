using System.Net;
using System.Net.Sockets;
using Azure;
using Azure.Identity;

namespace AgentRuns.Functions.Storage;

/// <summary>Tells a storage outage (nothing answered, or the service said it cannot serve now) from a failure of the request itself.</summary>
public static class StorageFailures
{
    /// <summary>
    /// True when storage could not be reached or could not serve: no response, a timeout, 408/429/5xx, or a 403 for a role
    /// not granted yet (right after a first deploy, role assignments take minutes to apply). Such a request changed nothing
    /// and may be retried later. Callers rule out their own cancellation first: any other cancellation is a timeout below
    /// them, whatever it wraps (the storage client's network timeout disposes the socket, so its innermost exception can be an
    /// <see cref="ObjectDisposedException"/>).
    /// </summary>
    public static bool IsUnavailable(Exception exception) => exception switch
    {
        RequestFailedException { Status: 0 or (int)HttpStatusCode.RequestTimeout or (int)HttpStatusCode.TooManyRequests or >= 500 } => true,
        RequestFailedException { Status: (int)HttpStatusCode.Forbidden, ErrorCode: "AuthorizationPermissionMismatch" or "AuthorizationFailure" } => true,
        AuthenticationFailedException or CredentialUnavailableException => true,
        HttpRequestException or SocketException or IOException => true,
        TimeoutException => true,
        AggregateException aggregate => aggregate.InnerExceptions.Count > 0 && aggregate.InnerExceptions.All(IsUnavailable),
        OperationCanceledException => true,
        _ => exception.InnerException is { } cause && IsUnavailable(cause),
    };
}
