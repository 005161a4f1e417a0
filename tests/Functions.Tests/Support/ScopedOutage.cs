using System.Collections.Concurrent;
using System.Text;
using Azure.Core;
using Azure.Core.Pipeline;

namespace AgentRuns.Functions.Tests.Support;

/// <summary>
/// Storage out for some rows only: while a marker (a tenant id, a run id) is on, every request to the app's tables that names it
/// in its URL or body fails as a request that timed out would, without a retry of the storage client. One test takes storage
/// away from its own runs this way without touching the tests that run beside it on the shared host.
/// </summary>
public sealed class ScopedOutage : HttpPipelineSynchronousPolicy
{
    private readonly ConcurrentDictionary<string, byte> _markers = new(StringComparer.Ordinal);
    private int _refused;

    /// <summary>Requests refused so far.</summary>
    public int Refused => Volatile.Read(ref _refused);

    public void Begin(params string[] markers)
    {
        foreach (var marker in markers)
        {
            _markers[marker] = 0;
        }
    }

    public void End(params string[] markers)
    {
        foreach (var marker in markers)
        {
            _markers.TryRemove(marker, out _);
        }
    }

    public override void OnSendingRequest(HttpMessage message) => Check(message);

    private void Check(HttpMessage message)
    {
        if (_markers.IsEmpty)
        {
            return;
        }

        var text = Uri.UnescapeDataString(message.Request.Uri.ToString());
        if (message.Request.Content is { } content)
        {
            using var body = new MemoryStream();
            content.WriteTo(body, CancellationToken.None);
            text += Encoding.UTF8.GetString(body.ToArray());
        }

        if (_markers.Keys.Any(m => text.Contains(m, StringComparison.Ordinal)))
        {
            Interlocked.Increment(ref _refused);
            throw new TimeoutException("Storage is out for this test's rows (ScopedOutage).");
        }
    }
}
