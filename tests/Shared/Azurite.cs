using System.Diagnostics;
using System.Net.Sockets;

namespace AgentRuns.Testing;

/// <summary>
/// The Azure Storage emulator the integration tests run against. Uses an Azurite already listening on 127.0.0.1
/// (as <c>.ci/run</c> and the run script start it), else starts the repository's pinned one in memory.
/// </summary>
public static class Azurite
{
    public const string ConnectionString = "UseDevelopmentStorage=true";
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static Process? _process;
    private static bool _ready;

    public static async Task EnsureRunningAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_ready)
            {
                return;
            }

            if (!await IsListeningAsync(10002))
            {
                Start();
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (!(await IsListeningAsync(10000) && await IsListeningAsync(10001) && await IsListeningAsync(10002)))
                {
                    if (_process!.HasExited || DateTime.UtcNow > deadline)
                    {
                        throw new InvalidOperationException("Azurite did not start: run `npm ci` at the repository root first.");
                    }

                    await Task.Delay(100);
                }
            }

            _ready = true;
        }
        finally
        {
            Gate.Release();
        }
    }

    private static void Start()
    {
        var script = Path.Combine(RepositoryRoot.Path, "node_modules", "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(script))
        {
            throw new InvalidOperationException($"Azurite is not installed ({script} is missing): run `npm ci` at the repository root.");
        }

        var start = new ProcessStartInfo("node")
        {
            ArgumentList =
            {
                script, "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
                "--disableTelemetry", "--silent", "--inMemoryPersistence", "--skipApiVersionCheck",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node.");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        };
    }

    private static async Task<bool> IsListeningAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

public static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Functions.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Could not find the repository root (Functions.sln).");
    }
}
