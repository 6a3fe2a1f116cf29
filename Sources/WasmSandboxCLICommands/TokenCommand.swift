import ArgumentParser
import WasmSandboxMCP

/// `wasm-sandbox token NAME`: a new client token for the HTTP server's tokens file.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a new random bearer token for client NAME, then the line that admits it.",
        discussion: """
            The first line is the token: give it to the client (it is not stored anywhere). The \
            second is 'NAME SHA256-HEX' for the file given to 'serve --auth-tokens'; append it and \
            send the server SIGHUP. Quotas can follow on that line, e.g. 'concurrent_runs=8 \
            calls_per_minute=600 cpu_seconds_per_minute=120'.
            """
    )

    @Argument(help: "The client's name: letters, digits, '.', '_' or '-', at most 64.")
    var name: String

    func run() throws {
        do {
            let (token, line) = try AuthTokens.newToken(client: name)
            print(token)
            print(line)
        } catch {
            throw ValidationError(error.description)
        }
    }
}
