using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;

namespace AgentRuns.Benchmarks.Infra;

/// <summary>
/// An Azurite of its own for one benchmark run: the repository's pinned one (<c>npm ci</c>), in memory, on free loopback
/// ports, with an account and key made up for this run (<c>AZURITE_ACCOUNTS</c>), so that nothing else on the machine
/// shares it or its data. As <c>tests/Shared/Azurite.cs</c> starts it, minus the reuse of a running one.
/// </summary>
public sealed class AzuriteServer : IAsyncDisposable
{
    private const string Account = "benchaccount";
    private readonly Process _process;
    private readonly string _directory;
    private bool _disposed;

    private AzuriteServer(Process process, string directory, int blobPort, int queuePort, int tablePort, string key, string version)
    {
        _process = process;
        _directory = directory;
        Version = version;
        ConnectionString = string.Join(';',
            "DefaultEndpointsProtocol=http",
            $"AccountName={Account}",
            $"AccountKey={key}",
            $"BlobEndpoint=http://127.0.0.1:{blobPort}/{Account}",
            $"QueueEndpoint=http://127.0.0.1:{queuePort}/{Account}",
            $"TableEndpoint=http://127.0.0.1:{tablePort}/{Account}");
    }

    public string ConnectionString { get; }

    public string Version { get; }

    public int ProcessId => _process.Id;

    public static async Task<AzuriteServer> StartAsync(string repositoryRoot)
    {
        var package = Path.Combine(repositoryRoot, "node_modules", "azurite");
        var script = Path.Combine(package, "dist", "src", "azurite.js");
        if (!File.Exists(script))
        {
            throw new InvalidOperationException($"Azurite is not installed ({script} is missing): run `npm ci` at the repository root.");
        }

        using var packageJson = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(package, "package.json")));
        var version = packageJson.RootElement.GetProperty("version").GetString() ?? "?";
        var ports = FreePorts.Take(3);
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(64));
        var directory = Directory.CreateTempSubdirectory("agentruns-bench-azurite-").FullName;
        var start = new ProcessStartInfo("node")
        {
            ArgumentList =
            {
                script,
                "--blobHost", "127.0.0.1", "--blobPort", ports[0].ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--queueHost", "127.0.0.1", "--queuePort", ports[1].ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--tableHost", "127.0.0.1", "--tablePort", ports[2].ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--disableTelemetry", "--silent", "--inMemoryPersistence", "--skipApiVersionCheck",
            },
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment = { ["AZURITE_ACCOUNTS"] = $"{Account}:{key}" },
        };
        // BENCH_AZURITE_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": node options for profiling the emulator
        // (node refuses --cpu-prof in NODE_OPTIONS). The profile is written when Azurite exits on SIGINT.
        var nodeArgs = Environment.GetEnvironmentVariable("BENCH_AZURITE_NODE_ARGS")?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
        for (var i = 0; i < nodeArgs.Length; i++)
        {
            start.ArgumentList.Insert(i, nodeArgs[i]);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node.");
        Children.Add(process);
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new AzuriteServer(process, directory, ports[0], ports[1], ports[2], key, version);

        var deadline = DateTime.UtcNow.AddSeconds(30);
        foreach (var port in ports)
        {
            while (!await IsListeningAsync(port))
            {
                if (process.HasExited || DateTime.UtcNow > deadline)
                {
                    await server.DisposeAsync();
                    throw new InvalidOperationException("Azurite did not start.");
                }

                await Task.Delay(100);
            }
        }

        return server;
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (!_process.HasExited)
        {
            // SIGINT lets it close its servers (and write a CPU profile with BENCH_AZURITE_NODE_ARGS=--cpu-prof); in memory,
            // there is nothing to save, so it is killed if it takes long.
            using (var interrupt = Process.Start("kill", ["-INT", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await interrupt.WaitForExitAsync();
            }

            using var stopped = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(stopped.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static async Task<bool> IsListeningAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>Free loopback ports, all held at once while chosen so that they differ.</summary>
public static class FreePorts
{
    public static int[] Take(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            listeners.ForEach(l => l.Start());
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            listeners.ForEach(l => l.Dispose());
        }
    }
}

/// <summary>The child processes of this run, killed when the runner exits, however it exits.</summary>
public static class Children
{
    private static readonly List<Process> Processes = [];
    private static readonly PosixSignalRegistration[] Signals =
    [
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, _ => KillAll()),
        PosixSignalRegistration.Create(PosixSignal.SIGINT, _ => KillAll()),
        PosixSignalRegistration.Create(PosixSignal.SIGHUP, _ => KillAll()),
    ];

    static Children()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
    }

    public static void Add(Process process)
    {
        lock (Processes)
        {
            Processes.Add(process);
        }
    }

    private static void KillAll()
    {
        lock (Processes)
        {
            foreach (var process in Processes)
            {
                try
                {
                    if (!process.HasExited)
                    {
                        process.Kill(entireProcessTree: true);
                    }
                }
                catch (InvalidOperationException)
                {
                    // disposed: it was stopped in order
                }
            }
        }
    }
}
