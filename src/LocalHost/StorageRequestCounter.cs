using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Azure.Core;
using Azure.Core.Pipeline;

namespace AgentRuns.LocalHost;

/// <summary>One kind of storage request: who sent it, to which service, with which method, to which table, queue or container.</summary>
public sealed record StorageRequestKind(string Source, string Service, string Method, string Resource);

/// <summary>How many storage requests of each kind were sent since <see cref="Since"/>.</summary>
public sealed record StorageRequestCounts(
    DateTimeOffset Since,
    double Seconds,
    long Total,
    IReadOnlyDictionary<string, long> ByService,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> BySource,
    IReadOnlyList<StorageRequestCount> Requests);

/// <summary>How many requests of a kind were sent, and how long they took in all (send to response, as the client saw it).</summary>
public sealed record StorageRequestCount(string Source, string Service, string Method, string Resource, long Count, double Milliseconds);

/// <summary>
/// Counts the storage requests this process sends, every attempt (retries included), and their time, by sender (<see cref="App"/>: the
/// runs tables; <see cref="Durable"/>: the Durable Task Framework's queues, tables and blobs), service, HTTP method and
/// resource. A pipeline policy attached to the clients' options does the counting. Local host only, for the benchmarks
/// (<c>LocalHost:CountStorageRequests</c>).
/// </summary>
public sealed class StorageRequestCounter(TimeProvider time)
{
    public const string App = "app";
    public const string Durable = "durable";
    public const string Tables = "tables";
    public const string Queues = "queues";
    public const string Blobs = "blobs";

    private Window _window = new(time.GetUtcNow());

    /// <summary>Adds the counting policy to <paramref name="options"/>: requests of those clients count as <paramref name="source"/>/<paramref name="service"/>.</summary>
    public T Attach<T>(T options, string source, string service)
        where T : ClientOptions
    {
        ArgumentNullException.ThrowIfNull(options);
        options.AddPolicy(new CountingPolicy(this, source, service), HttpPipelinePosition.PerRetry);
        return options;
    }

    public StorageRequestCounts Read() => Snapshot(Volatile.Read(ref _window));

    /// <summary>Starts a new count; returns the one that ends.</summary>
    public StorageRequestCounts Reset() => Snapshot(Interlocked.Exchange(ref _window, new Window(time.GetUtcNow())));

    private void Count(string source, string service, HttpMessage message, long elapsedTicks)
    {
        var kind = new StorageRequestKind(source, service, message.Request.Method.Method, ResourceOf(message.Request.Uri.ToUri()));
        var counter = Volatile.Read(ref _window).Counts.GetOrAdd(kind, _ => new Counter());
        Interlocked.Increment(ref counter.Value);
        Interlocked.Add(ref counter.Ticks, elapsedTicks);
    }

    private StorageRequestCounts Snapshot(Window window)
    {
        var requests = window.Counts
            .Select(c => new StorageRequestCount(
                c.Key.Source, c.Key.Service, c.Key.Method, c.Key.Resource, Interlocked.Read(ref c.Value.Value),
                Math.Round(Stopwatch.GetElapsedTime(0, Interlocked.Read(ref c.Value.Ticks)).TotalMilliseconds, 1)))
            .OrderByDescending(c => c.Count)
            .ThenBy(c => c.Source, StringComparer.Ordinal)
            .ThenBy(c => c.Service, StringComparer.Ordinal)
            .ThenBy(c => c.Resource, StringComparer.Ordinal)
            .ThenBy(c => c.Method, StringComparer.Ordinal)
            .ToList();
        string[] services = [Tables, Queues, Blobs];
        return new StorageRequestCounts(
            window.Since,
            Math.Round((time.GetUtcNow() - window.Since).TotalSeconds, 3),
            requests.Sum(r => r.Count),
            services.ToDictionary(s => s, s => requests.Where(r => r.Service == s).Sum(r => r.Count)),
            new[] { App, Durable }.ToDictionary(
                source => source,
                source => (IReadOnlyDictionary<string, long>)services.ToDictionary(
                    s => s, s => requests.Where(r => r.Source == source && r.Service == s).Sum(r => r.Count))),
            requests);
    }

    /// <summary>
    /// What a request is for: the table (without keys; <c>$batch</c> for a transaction), the queue (<c>/messages</c> for
    /// its messages) or the container (<c>/blob</c> for a blob in it), with the <c>comp</c> operation if any. Emulator
    /// URIs are path-style (<c>/account/resource</c>), the service's are not.
    /// </summary>
    private static string ResourceOf(Uri uri)
    {
        var segments = uri.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var index = IPAddress.TryParse(uri.Host, out _) || uri.IsLoopback ? 1 : 0;
        var resource = segments.Length <= index ? "(account)" : Uri.UnescapeDataString(segments[index]);
        var keys = resource.IndexOf('(', StringComparison.Ordinal);
        if (keys > 0)
        {
            resource = resource[..keys];
        }

        if (segments.Length > index + 1)
        {
            resource += segments[index + 1] == "messages" ? "/messages" : "/blob";
        }

        var comp = uri.Query.TrimStart('?').Split('&').FirstOrDefault(p => p.StartsWith("comp=", StringComparison.Ordinal));
        return comp is null ? resource : $"{resource}?{comp}";
    }

    private sealed class Window(DateTimeOffset since)
    {
        public DateTimeOffset Since { get; } = since;

        public ConcurrentDictionary<StorageRequestKind, Counter> Counts { get; } = new();
    }

    private sealed class Counter
    {
        public long Value;
        public long Ticks;
    }

    private sealed class CountingPolicy(StorageRequestCounter counter, string source, string service) : HttpPipelinePolicy
    {
        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                ProcessNext(message, pipeline);
            }
            finally
            {
                counter.Count(source, service, message, Stopwatch.GetTimestamp() - started);
            }
        }

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                await ProcessNextAsync(message, pipeline);
            }
            finally
            {
                counter.Count(source, service, message, Stopwatch.GetTimestamp() - started);
            }
        }
    }
}
