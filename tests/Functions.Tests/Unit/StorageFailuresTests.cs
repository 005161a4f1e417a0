using System.Net.Sockets;
using AgentRuns.Functions.Storage;
using Azure;

namespace AgentRuns.Functions.Tests.Unit;

/// <summary>What counts as storage being out (503, the stream keeps its client) rather than a defect (500).</summary>
public sealed class StorageFailuresTests
{
    public static TheoryData<string, Exception> Outages => new()
    {
        { "503 from the service", new RequestFailedException(503, "Server busy") },
        { "no response", new RequestFailedException(0, "no response") },
        { "socket", new SocketException((int)SocketError.ConnectionRefused) },
        {
            // As the storage client threw it while the emulator stalled: three tries, each cut by the network timeout, one of
            // which had disposed its socket already.
            "retries exhausted by timeouts, one over a disposed socket",
            new AggregateException(
                "Retry failed after 3 tries.",
                new TaskCanceledException("The operation was cancelled because it exceeded the configured timeout of 0:00:05.",
                    new TaskCanceledException("The operation was canceled.", new ObjectDisposedException("System.Net.Sockets.NetworkStream"))),
                new TaskCanceledException("The operation was cancelled because it exceeded the configured timeout of 0:00:05.",
                    new IOException("Unable to read data from the transport connection")),
                new TaskCanceledException("The operation was cancelled because it exceeded the configured timeout of 0:00:05."))
        },
    };

    public static TheoryData<string, Exception> Defects => new()
    {
        { "404", new RequestFailedException(404, "Not found") },
        { "412", new RequestFailedException(412, "Precondition failed") },
        { "a bug", new InvalidOperationException("bug") },
        { "a bug among timeouts", new AggregateException(new TimeoutException(), new InvalidOperationException("bug")) },
        { "403 for another reason", new RequestFailedException(403, "Forbidden", "AuthenticationFailed", null) },
    };

    [Theory]
    [MemberData(nameof(Outages))]
    public void AnOutage_IsUnavailable(string what, Exception exception) => Assert.True(StorageFailures.IsUnavailable(exception), what);

    [Theory]
    [MemberData(nameof(Defects))]
    public void ADefect_IsNot(string what, Exception exception) => Assert.False(StorageFailures.IsUnavailable(exception), what);
}
