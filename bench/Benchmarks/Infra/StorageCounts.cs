using System.Text.Json;

namespace AgentRuns.Benchmarks.Infra;

/// <summary>One kind of storage request, with the host's hub/table prefix taken off the resource name.</summary>
public sealed record RequestKind(string Source, string Service, string Method, string Resource)
{
    public override string ToString() => $"{Source} {Service} {Method} {Resource}";
}

/// <summary>
/// Storage requests the host counted over <see cref="Seconds"/> (from <c>/_localhost/storage-requests</c>), and the time
/// they took in all (send to response, as the host saw it).
/// </summary>
public sealed record StorageCounts(double Seconds, IReadOnlyDictionary<RequestKind, double> Requests, IReadOnlyDictionary<RequestKind, double> Milliseconds)
{
    public static readonly string[] Sources = ["app", "durable"];
    public static readonly string[] Services = ["tables", "queues", "blobs"];

    public double Total => Requests.Values.Sum();

    public double Of(string? source = null, string? service = null) =>
        Requests.Where(r => (source is null || r.Key.Source == source) && (service is null || r.Key.Service == service)).Sum(r => r.Value);

    public static StorageCounts Parse(string json, HostSettings settings)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var requests = new Dictionary<RequestKind, double>();
        var milliseconds = new Dictionary<RequestKind, double>();
        foreach (var r in root.GetProperty("requests").EnumerateArray())
        {
            var kind = new RequestKind(
                r.GetProperty("source").GetString()!,
                r.GetProperty("service").GetString()!,
                r.GetProperty("method").GetString()!,
                Normalize(r.GetProperty("resource").GetString()!, settings));
            requests[kind] = requests.GetValueOrDefault(kind) + r.GetProperty("count").GetInt64();
            milliseconds[kind] = milliseconds.GetValueOrDefault(kind) + r.GetProperty("milliseconds").GetDouble();
        }

        return new StorageCounts(root.GetProperty("seconds").GetDouble(), requests, milliseconds);
    }

    /// <summary>This window minus what an idle host does in the same time (<paramref name="baseline"/> scaled to <see cref="Seconds"/>).</summary>
    public StorageCounts Minus(StorageCounts baseline)
    {
        var scale = Seconds / baseline.Seconds;
        var keys = Requests.Keys.Union(baseline.Requests.Keys).ToList();
        return new StorageCounts(
            Seconds,
            keys.ToDictionary(k => k, k => Requests.GetValueOrDefault(k) - (baseline.Requests.GetValueOrDefault(k) * scale)),
            keys.ToDictionary(k => k, k => Milliseconds.GetValueOrDefault(k) - (baseline.Milliseconds.GetValueOrDefault(k) * scale)));
    }

    /// <summary>Every count divided by <paramref name="divisor"/> (per run, per minute, per stream-minute).</summary>
    public StorageCounts Per(double divisor) =>
        new(Seconds, Requests.ToDictionary(r => r.Key, r => r.Value / divisor), Milliseconds.ToDictionary(r => r.Key, r => r.Value / divisor));

    /// <summary>Only the kinds of request that match.</summary>
    public StorageCounts Where(Func<RequestKind, bool> match) =>
        new(Seconds, Requests.Where(r => match(r.Key)).ToDictionary(), Milliseconds.Where(r => match(r.Key)).ToDictionary());

    public StorageCounts Plus(StorageCounts other)
    {
        var keys = Requests.Keys.Union(other.Requests.Keys).ToList();
        return new StorageCounts(
            Seconds + other.Seconds,
            keys.ToDictionary(k => k, k => Requests.GetValueOrDefault(k) + other.Requests.GetValueOrDefault(k)),
            keys.ToDictionary(k => k, k => Milliseconds.GetValueOrDefault(k) + other.Milliseconds.GetValueOrDefault(k)));
    }

    private static string Normalize(string resource, HostSettings settings)
    {
        foreach (var prefix in new[] { settings.TablePrefix, settings.HubName })
        {
            if (resource.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            {
                return resource[prefix.Length..].TrimStart('-');
            }
        }

        return resource;
    }
}
