using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Azure.Data.Tables;
using AgentRuns.Testing;

namespace AgentRuns.Benchmarks.Infra;

/// <summary>What one local host instance is: ports, task hub, tables and API key, all fresh.</summary>
public sealed record HostSettings(int HttpPort, int GrpcPort, string HubName, string TablePrefix, string ApiKey, string Tenant)
{
    /// <summary>
    /// The local host's repair pass interval (<c>Repair:IntervalSeconds</c>), as in src/LocalHost/appsettings.json, set
    /// explicitly so that the report states the interval it measured at. In Azure the <c>RepairRuns</c> timer runs every 60 s.
    /// </summary>
    public const int RepairIntervalSeconds = 10;

    public static HostSettings Fresh(string label)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var ports = FreePorts.Take(2);
        var name = "b" + new string(label.Where(char.IsAsciiLetterOrDigit).Take(10).ToArray()).ToLowerInvariant() + id;
        return new HostSettings(ports[0], ports[1], name, name, "ark_bench_" + Guid.NewGuid().ToString("N"), "bench");
    }

    public string RunsTable => TablePrefix + "Runs";

    public string OpenRunsTable => TablePrefix + "Open";
}

/// <summary>
/// The local host as a child process, started as the end-to-end tests start it (<see cref="LocalHostLaunch"/>), with storage
/// request counting on. One per scenario, each on an emulator of its own (<c>BenchContext.StartHostAsync</c>), so that no
/// scenario inherits another's tables or queue messages.
/// </summary>
public sealed class HostProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private HostProcess(Process process, HostSettings settings, string storage)
    {
        _process = process;
        Settings = settings;
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 4096,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            UseProxy = false,
        };
        Http = new HttpClient(handler) { BaseAddress = new Uri($"http://127.0.0.1:{settings.HttpPort}"), Timeout = TimeSpan.FromSeconds(120) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", settings.ApiKey);
        Tables = new TableServiceClient(storage);
    }

    public HostSettings Settings { get; }

    public HttpClient Http { get; }

    /// <summary>The same storage, for the benchmark's own reads and writes (not counted: they are not the app's).</summary>
    public TableServiceClient Tables { get; }

    public int ProcessId => _process.Id;

    /// <summary>Where each host's output (warnings and errors) is saved when it stops; not saved if null.</summary>
    public static string? LogDirectory { get; set; }

    public string Output => string.Join(Environment.NewLine, _output.TakeLast(200));

    public static async Task<HostProcess> StartAsync(string storageConnectionString, HostSettings settings)
    {
        var start = LocalHostLaunch.StartInfo(
            settings.HttpPort, settings.GrpcPort, settings.HubName, "bench", storageConnectionString, settings.TablePrefix, settings.ApiKey,
            settings.Tenant);
        start.Environment["LocalHost__CountStorageRequests"] = "true";
        start.Environment["Repair__IntervalSeconds"] = HostSettings.RepairIntervalSeconds.ToString(CultureInfo.InvariantCulture);
        start.Environment["Logging__LogLevel__AgentRuns"] = "Warning";
        start.Environment["Logging__LogLevel__AgentRuns.LocalHost"] = "Warning";
        start.Environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Warning";

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the local host.");
        Children.Add(process);
        var host = new HostProcess(process, settings, storageConnectionString);
        process.OutputDataReceived += (_, e) => host.Collect(e.Data);
        process.ErrorDataReceived += (_, e) => host.Collect(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await host.WaitUntilReadyAsync();
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    /// <summary>The warnings and errors the host logged, by message (ids, run ids and the hub name taken out), with counts.</summary>
    public Dictionary<string, int> Warnings()
    {
        var lines = _output.ToArray();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Length; i++)
        {
            if (!lines[i].StartsWith("warn:", StringComparison.Ordinal) && !lines[i].StartsWith("fail:", StringComparison.Ordinal)
                && !lines[i].StartsWith("crit:", StringComparison.Ordinal))
            {
                continue;
            }

            var message = i + 1 < lines.Length ? lines[i + 1].Trim() : "";
            message = System.Text.RegularExpressions.Regex.Replace(message, "run_[a-z0-9]{26}", "run_…");
            message = System.Text.RegularExpressions.Regex.Replace(message, "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "…");
            message = message.Replace(Settings.HubName, "{hub}", StringComparison.OrdinalIgnoreCase);
            var key = $"{lines[i]} {(message.Length > 160 ? message[..160] + "…" : message)}";
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        return counts;
    }

    /// <summary>Storage requests counted by the host since the last reset.</summary>
    public async Task<StorageCounts> ReadStorageRequestsAsync(bool reset)
    {
        using var request = new HttpRequestMessage(reset ? HttpMethod.Post : HttpMethod.Get, "/_localhost/storage-requests");
        using var response = await Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return StorageCounts.Parse(await response.Content.ReadAsStringAsync(), Settings);
    }

    /// <summary>The host's memory: RSS from /proc, GC heap from the host's diagnostics route (after a full GC if asked).</summary>
    public async Task<MemorySample> ReadMemoryAsync(bool collect)
    {
        using var response = await Http.GetAsync(new Uri($"/_localhost/memory?collect={(collect ? "true" : "false")}", UriKind.Relative));
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        var status = ProcStatus(ProcessId);
        return new MemorySample(
            RssBytes: status.GetValueOrDefault("VmRSS"),
            PeakRssBytes: status.GetValueOrDefault("VmHWM"),
            GcHeapBytes: root.GetProperty("gc_heap_bytes").GetInt64(),
            GcCommittedBytes: root.GetProperty("gc_committed_bytes").GetInt64(),
            Collected: collect,
            ServerGc: root.GetProperty("server_gc").GetBoolean(),
            Threads: root.GetProperty("threads").GetInt32());
    }

    /// <summary>Seconds of CPU the host process has used (user + system), from /proc/&lt;pid&gt;/stat.</summary>
    public double CpuSeconds() => ProcCpuSeconds(ProcessId);

    public static double ProcCpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / 100.0; // USER_HZ is 100 on Linux
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        Http.Dispose();
        _process.Dispose();
        if (LogDirectory is not null)
        {
            Directory.CreateDirectory(LogDirectory);
            await File.WriteAllLinesAsync(Path.Combine(LogDirectory, Settings.HubName + ".log"), _output);
        }
    }

    private static Dictionary<string, long> ProcStatus(int pid)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            var parts = line.Split(':', 2);
            if (parts.Length == 2 && parts[1].Trim().EndsWith(" kB", StringComparison.Ordinal)
                && long.TryParse(parts[1].Trim()[..^3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb))
            {
                values[parts[0]] = kb * 1024;
            }
        }

        return values;
    }

    private Task WaitUntilReadyAsync() => LocalHostLaunch.WaitUntilReadyAsync(_process, Http, () => Output, StartTimeout);

    private void Collect(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 5000 && _output.TryDequeue(out _))
        {
        }
    }
}

public sealed record MemorySample(long RssBytes, long PeakRssBytes, long GcHeapBytes, long GcCommittedBytes, bool Collected, bool ServerGc, int Threads);
